/* SPDX-License-Identifier: MIT */
/* shmq stat and shmq rm: ipcs and ipcrm for shmq endpoints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void stat_usage(FILE *f)
{
	fprintf(f, "usage: shmq stat [--key K | --name N]\n"
		   "Without options, list every shmq endpoint on this machine. With a key or\n"
		   "name, show that endpoint and each connected client.\n\n"
		   "  -k, --key K    System V key\n"
		   "  -n, --name N   POSIX shared-memory name\n"
		   "  -h, --help     this text\n");
}

static void print_endpoint(const shmq_endpoint_info *e)
{
	char where[SHMQ_NAME_MAX + 16];
	if (e->name[0])
		snprintf(where, sizeof(where), "%s", e->name);
	else
		snprintf(where, sizeof(where), "0x%08x", (unsigned)e->key);
	printf("%-20s %-6s %8d %6u %04o %6u %9zu %8u %10zu\n", where, e->live ? "live" : "stale",
	       (int)e->server_pid, (unsigned)e->server_uid, e->mode, e->slots, e->ring_size,
	       e->clients, e->size);
}

static void print_header(void)
{
	printf("%-20s %-6s %8s %6s %4s %6s %9s %8s %10s\n", "KEY/NAME", "STATE", "SERVER", "UID",
	       "MODE", "SLOTS", "RING", "CLIENTS", "BYTES");
}

int cmd_stat(int argc, char **argv)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	int one = 0;
	static const struct option opts[] = { ENDPOINT_OPTS, { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "k:n:m:h", opts, NULL)) != -1) {
		if (c == 'k' || c == 'n')
			one = 1;
		if (endpoint_opt(c, optarg, &cfg))
			continue;
		if (c == 'h') {
			stat_usage(stdout);
			return 0;
		}
		die_bad_option(argv);
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);

	if (!one) {
		shmq_endpoint_info list[256];
		int n = shmq_list(list, 256);
		if (n < 0) {
			errorf("cannot list endpoints: %s", shmq_strerror(n));
			return 1;
		}
		print_header();
		for (int i = 0; i < n && i < 256; i++)
			print_endpoint(&list[i]);
		return 0;
	}

	shmq_endpoint_info info;
	shmq_slot_info *slots = calloc(SHMQ_MAX_SLOTS, sizeof(*slots));
	if (!slots)
		return 1;
	int n = shmq_inspect(&cfg, &info, slots, SHMQ_MAX_SLOTS);
	if (n < 0) {
		errorf("%s: %s", endpoint_str(&cfg), shmq_strerror(n));
		free(slots);
		return 1;
	}
	print_header();
	print_endpoint(&info);
	printf("\n%5s %6s %-9s %8s %6s %5s %12s %10s %12s %10s %10s %10s\n", "SLOT", "GEN",
	       "STATE", "PID", "UID", "ALIVE", "REQ_BYTES", "REQ_QUEUED", "REP_BYTES",
	       "REP_QUEUED", "MSGS_IN", "MSGS_OUT");
	static const char *states[] = { "free", "connected", "leaving" };
	for (int i = 0; i < n; i++) {
		const shmq_slot_info *s = &slots[i];
		if (s->state == 0)
			continue;
		printf("%5u %6u %-9s %8d %6u %5s %12llu %10llu %12llu %10llu %10llu %10llu\n",
		       s->slot, s->gen, states[s->state < 3 ? s->state : 2], (int)s->pid,
		       (unsigned)s->uid, s->alive ? "yes" : "no",
		       (unsigned long long)s->req_bytes, (unsigned long long)s->req_depth,
		       (unsigned long long)s->rep_bytes, (unsigned long long)s->rep_depth,
		       (unsigned long long)s->msgs_in, (unsigned long long)s->msgs_out);
	}
	free(slots);
	return 0;
}

static void rm_usage(FILE *f)
{
	fprintf(f, "usage: shmq rm (--key K | --name N) [--force]\n"
		   "Remove a stale endpoint (its server is dead). A live endpoint, a segment\n"
		   "that is not shmq's, or a file at its path that is not yours or not a\n"
		   "regular file, is refused unless --force.\n\n"
		   "  -k, --key K    System V key\n"
		   "  -n, --name N   POSIX shared-memory name\n"
		   "  -f, --force    remove even a live endpoint or a foreign segment\n"
		   "  -h, --help     this text\n");
}

int cmd_rm(int argc, char **argv)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	int one = 0;
	unsigned flags = 0;
	static const struct option opts[] = { ENDPOINT_OPTS, { "force", no_argument, 0, 'f' },
					      { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "k:n:m:fh", opts, NULL)) != -1) {
		if (c == 'k' || c == 'n')
			one = 1;
		if (endpoint_opt(c, optarg, &cfg))
			continue;
		if (c == 'f') {
			flags |= SHMQ_REMOVE_FORCE;
		} else if (c == 'h') {
			rm_usage(stdout);
			return 0;
		} else {
			die_bad_option(argv);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!one)
		die_usage("say which endpoint: --key K or --name N");
	int rc = shmq_remove(&cfg, flags);
	if (rc < 0) {
		if (rc == -EADDRINUSE)
			errorf("%s is live (its server is running); stop the server, or use --force",
			       endpoint_str(&cfg));
		else if (rc == -EEXIST)
			errorf("%s is not a shmq endpoint; use --force to remove it anyway",
			       endpoint_str(&cfg));
		else if (rc == -EACCES && !(flags & SHMQ_REMOVE_FORCE))
			errorf("%s is not yours, or not a regular file (a FIFO, a link): left "
			       "alone; --force removes it if you may",
			       endpoint_str(&cfg));
		else
			errorf("%s: %s", endpoint_str(&cfg), shmq_strerror(rc));
		return 1;
	}
	printf("removed %s\n", endpoint_str(&cfg));
	return 0;
}
