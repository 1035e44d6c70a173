// SPDX-License-Identifier: GPL-2.0
/* Deliberately does not compile: see the Makefile. */
#include <linux/module.h>

static int __init dkms_broken_init(void)
{
	return this_symbol_does_not_exist;
}

module_init(dkms_broken_init);
MODULE_LICENSE("GPL");
