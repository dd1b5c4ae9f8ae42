/* SPDX-License-Identifier: MIT */
/*
 * shmq bench: exec the benchmark, shmq-bench, a program of its own so that
 * only it links ZeroMQ and nng; the shmq tool needs libc and libshmq alone.
 *
 * Where it is looked for, in order:
 *   1. beside this program (/proc/self/exe's directory): the build tree,
 *      or an install that put both in one directory;
 *   2. the install's libexec directory, found from this program's own
 *      directory (so a relocated install works), then as configured;
 *   3. the install's bindir, as configured;
 *   4. PATH.
 * The benchmark gets the same arguments and pid (so its files, named after
 * the pid, are what the caller expects), with argv[0] "shmq bench".
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#ifndef SHMQ_BENCH_NAME
#define SHMQ_BENCH_NAME "shmq-bench"
#endif
/* Set by the build: libexec relative to bindir, and both as configured. */
#ifndef SHMQ_REL_LIBEXECDIR
#define SHMQ_REL_LIBEXECDIR "../libexec/shmq"
#endif
#ifndef SHMQ_LIBEXECDIR
#define SHMQ_LIBEXECDIR "/usr/local/libexec/shmq"
#endif
#ifndef SHMQ_BINDIR
#define SHMQ_BINDIR "/usr/local/bin"
#endif

/* dir/name into buf if it is an executable file: 0, else -1. */
static int try_path(char *buf, size_t cap, const char *dir, size_t dirlen, const char *sub)
{
	int n = snprintf(buf, cap, "%.*s%s%s/%s", (int)dirlen, dir, *sub ? "/" : "", sub,
			 SHMQ_BENCH_NAME);
	if (n < 0 || (size_t)n >= cap || dirlen == 0)
		return -1;
	return access(buf, X_OK) == 0 ? 0 : -1;
}

static int find_bench(char *buf, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		size_t len = slash ? (size_t)(slash - self) : 0;
		if (try_path(buf, cap, self, len, "") == 0 ||
		    try_path(buf, cap, self, len, SHMQ_REL_LIBEXECDIR) == 0)
			return 0;
	}
	if (try_path(buf, cap, SHMQ_LIBEXECDIR, strlen(SHMQ_LIBEXECDIR), "") == 0 ||
	    try_path(buf, cap, SHMQ_BINDIR, strlen(SHMQ_BINDIR), "") == 0)
		return 0;
	const char *path = getenv("PATH");
	while (path && *path) {
		size_t len = strcspn(path, ":");
		/* An empty entry means the current directory: skip it. */
		if (len > 0 && try_path(buf, cap, path, len, "") == 0)
			return 0;
		path += len + (path[len] == ':');
	}
	return -1;
}

int cmd_bench(int argc, char **argv)
{
	static char name[] = "shmq bench";
	char path[PATH_MAX];
	(void)argc;
	if (find_bench(path, sizeof(path)) < 0) {
		errorf("%s not found (beside shmq, in %s or on PATH): install it to run the "
		       "benchmark (Debian package shmq-bench)",
		       SHMQ_BENCH_NAME, SHMQ_LIBEXECDIR);
		return 1;
	}
	argv[0] = name;
	execv(path, argv);
	errorf("cannot run %s: %s", path, strerror(errno));
	return 1;
}
