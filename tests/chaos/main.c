/* SPDX-License-Identifier: MIT */
/*
 * chaos ROLE [options]
 *   chaos driver [--seconds N] [--clients N] [--backend alt|sysv|posix]
 *                [--seed S] [--dir D] [--keep] [--phase-seconds N]
 *                [--rss-slack-kb N] [--calm-server]
 *                [--end-order random|server|clients]   who stops first at a phase's end
 *   chaos check DIR [--clients N] [--rss-slack-kb N]
 *   chaos server|client ...   (spawned by the driver; see parse_role_args)
 * Exit status: 0 no violation, 1 violations, 2 usage, 3 setup failure.
 */
#include <stdio.h>
#include <string.h>

#include "chaos.h"

int main(int argc, char **argv)
{
	if (argc >= 2) {
		const char *role = argv[1];
		if (!strcmp(role, "driver"))
			return driver_main(argc - 1, argv + 1);
		if (!strcmp(role, "server"))
			return server_main(argc - 1, argv + 1);
		if (!strcmp(role, "client"))
			return client_main(argc - 1, argv + 1);
		if (!strcmp(role, "check"))
			return check_main(argc - 1, argv + 1);
	}
	fprintf(stderr, "usage: %s driver|check|server|client [options]\n", argv[0]);
	return 2;
}
