/* SPDX-License-Identifier: MIT */
/*
 * Programs of their own that the shmq tool runs for some commands, so that
 * only they link what they need: shmq-bench (ZeroMQ, nng) and shmq-bridge
 * (libnats). The tool itself needs libc alone.
 *
 * Where one is looked for, in order:
 *   1. beside this program (/proc/self/exe's directory): the build tree,
 *      or an install that put them in one directory (shmq-bridge);
 *   2. the install's libexec directory, found from this program's own
 *      directory (so a relocated install works), then as configured
 *      (shmq-bench);
 *   3. the install's bindir, as configured;
 *   4. PATH.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

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

/* dir[/sub]/exe into buf if it is an executable file: 0, else -1. */
static int try_path(char *buf, size_t cap, const char *dir, size_t dirlen, const char *sub,
		    const char *exe)
{
	int n = snprintf(buf, cap, "%.*s%s%s/%s", (int)dirlen, dir, *sub ? "/" : "", sub, exe);
	if (n < 0 || (size_t)n >= cap || dirlen == 0)
		return -1;
	return access(buf, X_OK) == 0 ? 0 : -1;
}

static int find_helper(const char *exe, char *buf, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		size_t len = slash ? (size_t)(slash - self) : 0;
		if (try_path(buf, cap, self, len, "", exe) == 0 ||
		    try_path(buf, cap, self, len, SHMQ_REL_LIBEXECDIR, exe) == 0)
			return 0;
	}
	if (try_path(buf, cap, SHMQ_LIBEXECDIR, strlen(SHMQ_LIBEXECDIR), "", exe) == 0 ||
	    try_path(buf, cap, SHMQ_BINDIR, strlen(SHMQ_BINDIR), "", exe) == 0)
		return 0;
	const char *path = getenv("PATH");
	while (path && *path) {
		size_t len = strcspn(path, ":");
		/* An empty entry means the current directory: skip it. */
		if (len > 0 && try_path(buf, cap, path, len, "", exe) == 0)
			return 0;
		path += len + (path[len] == ':');
	}
	return -1;
}

int exec_helper(const char *exe, char *argv0, char **argv)
{
	char path[PATH_MAX];
	if (find_helper(exe, path, sizeof(path)) < 0)
		return -ENOENT;
	argv[0] = argv0;
	execv(path, argv);
	return -errno;
}
