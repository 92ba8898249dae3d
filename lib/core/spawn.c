// SPDX-License-Identifier: MIT
/*
 * The one way ibup runs another program: posix_spawnp with an argv array (no shell),
 * stdout and stderr captured through pipes up to a bound, and a wall-clock timeout
 * after which the child's whole process group is killed. And, for work that must
 * outlive its caller, a detached start: a session of its own, nobody's child.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "internal.h"
#include "banned.h"

extern char **environ;

#define SPAWN_OUT_DEFAULT (1024 * 1024)

struct capture {
	char *buf;
	size_t len, max;
	bool truncated;
};

static int capture_init(struct capture *c, size_t max)
{
	c->buf = malloc(1);
	if (!c->buf)
		return -ENOMEM;
	c->buf[0] = '\0';
	c->len = 0;
	c->max = max;
	c->truncated = false;
	return 0;
}

/* Append what is readable; 1 at end of file, 0 for more to come, or -errno. */
static int capture_read(struct capture *c, int fd)
{
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	size_t keep;
	char *p;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	keep = (size_t)n;
	if (c->len + keep > c->max) {
		keep = c->max - c->len;
		c->truncated =
			true; /* keep draining so the child never blocks on a full pipe */
	}
	if (keep == 0)
		return 0;
	p = realloc(c->buf, c->len + keep + 1);
	if (!p)
		return -ENOMEM;
	c->buf = p;
	memcpy(c->buf + c->len, chunk, keep);
	c->len += keep;
	c->buf[c->len] = '\0';
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start_child(const char *const argv[], char *const envp[], int out[2],
		       int err[2], pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int r;

	if (posix_spawn_file_actions_init(&fa))
		return -ENOMEM;
	if (posix_spawnattr_init(&attr)) {
		posix_spawn_file_actions_destroy(&fa);
		return -ENOMEM;
	}
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	if (!r)
		r = posix_spawnattr_setpgroup(&attr, 0);
	if (!r)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&attr, &dfl);
	if (!r)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
							    POSIX_SPAWN_SETSIGMASK |
							    POSIX_SPAWN_SETSIGDEF);
	if (!r)
		/* POSIX's prototype predates const; the strings are not modified. */
		r = posix_spawnp(ret_pid, argv[0], &fa, &attr,
				 (char *const *)(uintptr_t)argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

/* Pump both pipes until they close or the deadline passes; 1 when timed out. */
static int pump(int outfd, int errfd, struct capture *out, struct capture *err,
		int64_t deadline)
{
	struct pollfd pfd[2] = { { .fd = outfd, .events = POLLIN },
				 { .fd = errfd, .events = POLLIN } };
	struct capture *cap[2] = { out, err };

	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int wait = -1, n;

		if (deadline) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return 1;
			wait = left > 1000 ? 1000 : (int)left;
		}
		n = poll(pfd, 2, wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (unsigned i = 0; i < 2; i++) {
			int r;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			r = capture_read(cap[i], pfd[i].fd);
			if (r < 0)
				return r;
			if (r == 1)
				pfd[i].fd = -1;
		}
	}
	return 0;
}

/* Reap the child; past the deadline, kill its group. 1 when it had to be killed. */
static int reap(pid_t pid, int64_t deadline, bool kill_now, int *status)
{
	const struct timespec tick = { .tv_nsec = 5 * 1000 * 1000 };
	bool killed = kill_now;

	if (kill_now)
		kill(-pid, SIGKILL); /* the whole group: a shell's children too */
	for (;;) {
		pid_t r = waitpid(pid, status, killed || !deadline ? 0 : WNOHANG);

		if (r == pid)
			return killed;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0 && now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			killed = true;
		} else if (r == 0) {
			nanosleep(&tick, NULL);
		}
	}
}

/* environ with @env's "NAME=value" entries replacing or added to it; NULL: environ. */
static char **merge_env(const char *const env[])
{
	size_t n = 0, m = 0, k = 0;
	char **v;

	if (!env || !env[0])
		return NULL;
	while (environ[n])
		n++;
	while (env[m])
		m++;
	v = calloc(n + m + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;

		for (size_t j = 0; j < m && !replaced; j++) {
			const char *eq = strchr(env[j], '=');
			size_t len = eq ? (size_t)(eq - env[j]) : strlen(env[j]);

			replaced = strncmp(environ[i], env[j], len) == 0 &&
				   environ[i][len] == '=';
		}
		if (!replaced)
			v[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		v[k++] = (char *)(uintptr_t)env[j];
	return v;
}

int ibup_spawn(const char *const argv[], unsigned timeout_ms, size_t out_max,
	       struct ibup_spawn_result *ret_result)
{
	return ibup_spawn_env(argv, NULL, timeout_ms, out_max, ret_result);
}

int ibup_spawn_env(const char *const argv[], const char *const env[], unsigned timeout_ms,
		   size_t out_max, struct ibup_spawn_result *ret_result)
{
	_cleanup_free_ char **envp = merge_env(env);
	struct capture out = { 0 }, err = { 0 };
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int64_t deadline = timeout_ms ? now_ms() + timeout_ms : 0;
	int status = 0, r, timed_out;
	pid_t pid;

	if (!argv || !argv[0])
		return -EINVAL;
	if (env && env[0] && !envp)
		return -ENOMEM;
	if (!out_max)
		out_max = SPAWN_OUT_DEFAULT;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = -errno;
		close_pair(outp);
		close_pair(errp);
		return r;
	}
	r = capture_init(&out, out_max);
	if (!r)
		r = capture_init(&err, out_max);
	if (!r)
		r = start_child(argv, envp ? envp : environ, outp, errp, &pid);
	close(outp[1]);
	close(errp[1]);
	if (r < 0) {
		close(outp[0]);
		close(errp[0]);
		free(out.buf);
		free(err.buf);
		return r;
	}
	timed_out = pump(outp[0], errp[0], &out, &err, deadline);
	close(outp[0]);
	close(errp[0]);
	/* The pipes may close before the child exits: its exit is bounded too. */
	r = reap(pid, deadline, timed_out != 0, &status);
	if (r == 1 && timed_out == 0)
		timed_out = 1;
	*ret_result = (struct ibup_spawn_result){
		.timed_out = timed_out == 1,
		.out = out.buf,
		.out_len = out.len,
		.err = err.buf,
		.err_len = err.len,
		.truncated = out.truncated || err.truncated,
	};
	if (timed_out == 1)
		ret_result->exit_code = -1;
	else if (WIFEXITED(status))
		ret_result->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		ret_result->exit_code = 128 + WTERMSIG(status);
	if (timed_out < 0) {
		ibup_spawn_result_release(ret_result);
		return timed_out;
	}
	return 0;
}

void ibup_spawn_result_release(struct ibup_spawn_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

int ibup_spawn_detached(const char *const argv[], const char *const env[],
			const char *log_path, long *ret_pid)
{
	_cleanup_free_ char **envp = merge_env(env);
	int pfd[2], status;
	long pid = 0;
	pid_t child;

	if (!argv || !argv[0] || argv[0][0] != '/')
		return -EINVAL;
	if (env && env[0] && !envp)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		int r = -errno;

		close_pair(pfd);
		return r;
	}
	if (child == 0) {
		pid_t grandchild;
		int fd;

		close(pfd[0]);
		grandchild = fork();
		if (grandchild != 0) {
			long gp = grandchild;

			if (grandchild < 0 ||
			    write(pfd[1], &gp, sizeof(gp)) != sizeof(gp))
				_exit(127);
			_exit(0);
		}
		close(pfd[1]);
		/* Out of the caller's process group and session, the leader of its own
		 * (its pid names both): a kill of the caller's group, or the caller's
		 * exit, does not reach it; a kill of its session reaches all it started. */
		if (setsid() < 0)
			_exit(127);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			dup2(fd, STDIN_FILENO);
		fd = log_path ? open(log_path,
				     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
					     O_NOFOLLOW,
				     0644)
			      : -1;
		if (fd < 0)
			fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execve(argv[0], (char *const *)(uintptr_t)argv, envp ? envp : environ);
		_exit(127);
	}
	close(pfd[1]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (read(pfd[0], &pid, sizeof(pid)) != sizeof(pid) || pid <= 0) {
		close(pfd[0]);
		return -ECHILD;
	}
	close(pfd[0]);
	*ret_pid = pid;
	return 0;
}
