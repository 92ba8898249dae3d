// SPDX-License-Identifier: MIT
/*
 * LD_PRELOAD shim: every other syscall(SYS_openat2, ...) fails with EAGAIN, as openat2
 * with RESOLVE_IN_ROOT does when a rename or mount elsewhere races with its walk through
 * "..", so the tests check that libibup retries instead of failing the read.
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
	static unsigned calls;
	long a[6];
	va_list ap;

	if (number == SYS_openat2 && calls++ % 2 == 0) {
		errno = EAGAIN;
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
