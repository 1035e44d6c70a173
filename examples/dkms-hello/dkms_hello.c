// SPDX-License-Identifier: GPL-2.0
/* The example module of the dkms project: prints one line when loaded. */
#include <linux/init.h>
#include <linux/module.h>

static int __init dkms_hello_init(void)
{
	pr_info("dkms_hello: hello from a DKMS-built module\n");
	return 0;
}

static void __exit dkms_hello_exit(void)
{
	pr_info("dkms_hello: goodbye\n");
}

module_init(dkms_hello_init);
module_exit(dkms_hello_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION("1.0");
MODULE_DESCRIPTION("Example module built by dkms");
