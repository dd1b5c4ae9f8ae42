/* SPDX-License-Identifier: MIT */
/* shmq bridge: run shmq-bridge (tools/helpers.c says where it is looked
 * for), a program of its own, so that neither the library nor this tool
 * depends on libnats. */
#include <errno.h>

#include "common.h"

int cmd_bridge(int argc, char **argv)
{
	static char name[] = "shmq-bridge";
	(void)argc;
	/* argv[0] is "bridge": shmq-bridge takes the mode next. */
	int rc = exec_helper("shmq-bridge", name, argv);
	errorf("cannot run shmq-bridge (%s): it is looked for beside shmq and on PATH, and is "
	       "built only where libnats is (Debian: libnats-dev; cmake -DSHMQ_BRIDGE=ON)",
	       shmq_strerror(rc));
	return rc == -ENOENT ? 127 : 126;
}
