/* SPDX-License-Identifier: MIT */
/* shmq bridge: runs shmq-bridge, a program of its own, so that neither the
 * library nor this tool depends on libnats. It is looked for beside this
 * binary first (a build directory, or the same bin/ once installed), then
 * in PATH. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define BRIDGE_EXE "shmq-bridge"

int cmd_bridge(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	/* argv[0] is "bridge": shmq-bridge takes the mode next. */
	argv[0] = BRIDGE_EXE;
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash && (size_t)(slash + 1 - self) + sizeof(BRIDGE_EXE) <= sizeof(self)) {
			memcpy(slash + 1, BRIDGE_EXE, sizeof(BRIDGE_EXE));
			if (access(self, X_OK) == 0)
				execv(self, argv);
		}
	}
	execvp(BRIDGE_EXE, argv);
	int err = errno;
	errorf("cannot run %s (%s): it is looked for beside shmq and in PATH, and is built "
	       "only where libnats is (Debian: libnats-dev; cmake -DSHMQ_BRIDGE=ON)",
	       BRIDGE_EXE, strerror(err));
	return err == ENOENT ? 127 : 126;
}
