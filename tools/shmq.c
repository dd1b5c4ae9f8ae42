/* SPDX-License-Identifier: MIT */
/* shmq: command-line front end. Every subcommand uses the public API only. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <getopt.h>

#include "common.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *what;
} cmds[] = {
	{ "server", cmd_server, "create an endpoint and print what clients send" },
	{ "client", cmd_client, "send each line of standard input to a server" },
	{ "bench", cmd_bench, "measure shmq against the other IPC transports" },
	{ "stat", cmd_stat, "list endpoints, their clients and queues" },
	{ "rm", cmd_rm, "remove a stale endpoint" },
	{ "bridge", cmd_bridge, "bridge endpoints and NATS subjects (runs shmq-bridge)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: shmq <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "\n'shmq <command> --help' for a command's options; man shmq for more.\n");
}

int main(int argc, char **argv)
{
	if (open_stdio() < 0) {
		/* Standard error may be one of those closed: say it if we can. */
		static const char msg[] = "shmq: cannot open /dev/null for a closed "
					  "standard input, output or error\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
		return 1;
	}
	opterr = 0; /* each subcommand reports bad options itself, in one line */
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("shmq %s\n", shmq_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			static char name[32];
			snprintf(name, sizeof(name), "shmq %s", cmds[i].name);
			prog = name;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "shmq: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
