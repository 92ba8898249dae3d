// SPDX-License-Identifier: MIT
/*
 * LD_PRELOAD shim: syscall(SYS_openat2, ...) fails with ENOSYS, as on kernels before
 * 5.6, so the tests exercise libibup's own contained path walk.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

#ifndef SYS_openat2 /* glibc before 2.32, as lib/core/fileio.c */
#define SYS_openat2 __NR_openat2
#endif

long syscall(long number, ...);

long syscall(long number, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;

	if (number == SYS_openat2) {
		errno = ENOSYS;
		return -1;
	}
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
