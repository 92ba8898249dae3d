// SPDX-License-Identifier: MIT
/*
 * OS access beyond reading: the one atomic file writer, its companions (remove,
 * mkdir, exists), and the one spawner of external programs.
 */
#ifndef IBUP_SYS_H
#define IBUP_SYS_H

#include <stdbool.h>
#include <stddef.h>

#include "ibup/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Files: the one atomic writer. */

/* What ibup_file_replace() does beyond replacing the content. */
enum ibup_write_flags {
	/* The first time an existing file is changed, keep its content as
	 * "<path>.ibup-orig" (files ibup shares with others). */
	IBUP_WRITE_BACKUP = 1 << 0,
	/* Create missing parent directories (0755), resolved inside the root. */
	IBUP_WRITE_MKDIR = 1 << 1,
};

/**
 * ibup_file_replace() - replace a file's content atomically, under the root
 * @ctx: library context
 * @path: path relative to the root, without a leading slash
 * @data: new content
 * @len: its length
 * @mode: permission bits for a new file; an existing file keeps its mode and owner
 * @flags: enum ibup_write_flags
 *
 * Takes an flock on the file's directory (released with the process, however it
 * ends), writes "<path>.ibup-new" beside the file, fsyncs it, renames it over @path and
 * fsyncs the directory. Every path component is resolved inside the root. Nothing is
 * written when the content is already @data. Only regular files are replaced.
 *
 * Return: 1 if the file changed, 0 if it already had this content, or a negative
 * errno (-EBUSY when another writer holds the directory's lock, -EINVAL when @path is
 * not a regular file).
 */
int ibup_file_replace(struct ibup_ctx *ctx, const char *path, const void *data,
		      size_t len, unsigned mode, unsigned flags);

/**
 * ibup_file_write_path() - replace the file at a path the user gave, atomically
 * @path: absolute, or relative to the working directory (no root applies)
 * @data: new content
 * @len: its length
 * @mode: permission bits for a new file
 *
 * ibup_file_replace() in @path's directory, for reports written where the user asked
 * (--output, --csv, --svg): never a truncated file in their place.
 *
 * Return: as ibup_file_replace(); -EISDIR when @path ends with a slash.
 */
int ibup_file_write_path(const char *path, const void *data, size_t len, unsigned mode);

/**
 * ibup_path_exists() - whether a path exists under the root
 * @ctx: library context
 * @fmt: printf-style path relative to the root (symlinks followed inside it)
 *
 * Return: 1 if it exists, 0 if not, or a negative errno.
 */
int ibup_path_exists(struct ibup_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * ibup_file_remove() - remove a file under the root
 * @ctx: library context
 * @path: path relative to the root
 *
 * Return: 1 when removed, 0 when it was not there, or a negative errno.
 */
int ibup_file_remove(struct ibup_ctx *ctx, const char *path);

/**
 * ibup_mkdir_p() - create a directory and its parents under the root
 * @ctx: library context
 * @path: path relative to the root
 * @mode: mode of the directories created
 *
 * Return: 0, or a negative errno.
 */
int ibup_mkdir_p(struct ibup_ctx *ctx, const char *path, unsigned mode);

/**
 * ibup_sanitize_text() - make a multi-line text safe for a terminal, in place
 * @s: NUL-terminated text (a file's content, a diff)
 *
 * Control characters other than newline and tab, and bytes that are not UTF-8,
 * become '?' (single-line strings get the library's stricter rule, which also
 * replaces newlines and tabs).
 *
 * Return: @s.
 */
char *ibup_sanitize_text(char *s);

/* Processes: the one spawner. */

struct ibup_spawn_result {
	int exit_code; /* exit status, 128+signal when killed, -1 when timed out */
	bool timed_out;
	char *out; /* captured stdout, NUL-terminated, at most out_max bytes */
	size_t out_len;
	char *err; /* captured stderr, likewise */
	size_t err_len;
	bool truncated; /* output exceeded the bound and was cut */
};

/**
 * ibup_spawn() - run a program with an argv array, capture its output, bound its time
 * @argv: program and arguments, NULL-terminated; argv[0] is looked up in PATH
 * @timeout_ms: wall-clock limit; the process group is killed when it passes (0: none)
 * @out_max: bound on each of stdout and stderr kept (0: 1 MiB)
 * @ret_result: filled on success; release with ibup_spawn_result_release()
 *
 * No shell is involved. The child gets /dev/null as stdin and its own process group.
 *
 * Return: 0 when the program ran (whatever its exit status), or a negative errno
 * (-ENOENT when it does not exist).
 */
int ibup_spawn(const char *const argv[], unsigned timeout_ms, size_t out_max,
	       struct ibup_spawn_result *ret_result);
void ibup_spawn_result_release(struct ibup_spawn_result *r);

/**
 * ibup_spawn_detached() - start a program that outlives its caller
 * @argv: program (an absolute path) and arguments, NULL-terminated
 * @env: "NAME=value" entries added to (or replacing in) the environment; NULL for none
 * @log_path: where its stdout and stderr go (appended, created 0644); NULL or
 *	unopenable: /dev/null. stdin is /dev/null.
 * @ret_pid: the program's pid
 *
 * The program is the leader of a session (and process group) of its own, whose id is
 * its pid, the child of a child that exits at once: a kill of the caller's process group, or the caller's
 * exit, does not reach it, and nobody waits for it. Not waited for or bounded in time.
 *
 * Return: 0 once it is started (not whether exec succeeded), or a negative errno.
 */
int ibup_spawn_detached(const char *const argv[], const char *const env[],
			const char *log_path, long *ret_pid);

#ifdef __cplusplus
}
#endif

#endif
