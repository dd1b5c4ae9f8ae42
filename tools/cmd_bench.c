/* SPDX-License-Identifier: MIT */
/* shmq bench: run shmq-bench (tools/helpers.c says where it is looked for),
 * with the same arguments and pid (so its files, named after the pid, are
 * what the caller expects), and argv[0] "shmq bench". */
#include <errno.h>

#include "common.h"

int cmd_bench(int argc, char **argv)
{
	static char name[] = "shmq bench";
	(void)argc;
	int rc = exec_helper("shmq-bench", name, argv);
	if (rc == -ENOENT)
		errorf("shmq-bench not found (beside shmq, in its libexec/shmq or on PATH): "
		       "install it to run the benchmark (Debian package shmq-bench)");
	else
		errorf("cannot run shmq-bench: %s", shmq_strerror(rc));
	return 1;
}
