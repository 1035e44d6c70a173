package tarball

import "syscall"

// syscallNoFollow makes the final open refuse a symbolic link, a second
// line of defence behind the first-pass checks.
const syscallNoFollow = syscall.O_NOFOLLOW
