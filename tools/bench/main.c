/* SPDX-License-Identifier: MIT */
/*
 * shmq-bench: the program behind `shmq bench`. It is an executable of its
 * own so that only it links the optional peers (ZeroMQ, nng): the shmq tool
 * and libshmq need libc alone. `shmq bench ARGS` execs it as
 * "shmq bench ARGS"; run directly, it names itself shmq-bench.
 */
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "common.h"

int main(int argc, char **argv)
{
	if (open_stdio() < 0) {
		static const char msg[] = "shmq bench: cannot open /dev/null for a closed "
					  "standard input, output or error\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
		return 1;
	}
	opterr = 0;
	/* Messages say "shmq bench: ..." when started by the shmq tool. */
	prog = argc > 0 && !strcmp(argv[0], "shmq bench") ? "shmq bench" : "shmq-bench";
	return bench_main(argc, argv);
}
