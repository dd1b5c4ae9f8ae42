/* SPDX-License-Identifier: MIT */
/* shmq stat and shmq rm: ipcs and ipcrm for shmq endpoints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "json.h"

static void stat_usage(FILE *f)
{
	fprintf(f, "usage: shmq stat [--key K | --name N] [--json]\n"
		   "Without options, list every shmq endpoint on this machine. With a key or\n"
		   "name, show that endpoint and each connected client.\n\n"
		   "  -k, --key K    System V key\n"
		   "  -n, --name N   POSIX shared-memory name\n"
		   "  -j, --json     machine-readable output (JSON; see man shmq)\n"
		   "  -h, --help     this text\n");
}

/* live (serving), draining (shutting down, still serving what was sent),
 * stale (its server is dead). */
static const char *ep_state(const shmq_endpoint_info *e)
{
	if (!e->live)
		return "stale";
	return e->state == 2 ? "draining" : "live";
}

static void print_endpoint(const shmq_endpoint_info *e)
{
	char where[SHMQ_NAME_MAX + 16];
	if (e->name[0])
		snprintf(where, sizeof(where), "%s", e->name);
	else
		snprintf(where, sizeof(where), "0x%08x", (unsigned)e->key);
	printf("%-20s %-8s %8d %6u %04o %6u %9zu %8u %10zu %3u.%u\n", where, ep_state(e),
	       (int)e->server_pid, (unsigned)e->server_uid, e->mode, e->slots, e->ring_size,
	       e->clients, e->size, e->layout_major, e->layout_minor);
}

static const char *slot_state(unsigned state)
{
	static const char *states[] = { "free", "connected", "leaving" };
	return states[state < 3 ? state : 2];
}

/* ---- JSON: one line per field ----------------------------------------------- */

static void json_endpoint(struct json *j, const char *key, const shmq_endpoint_info *e)
{
	char hex[16], mode[8];
	snprintf(hex, sizeof(hex), "0x%08x", (unsigned)e->key);
	snprintf(mode, sizeof(mode), "%04o", e->mode);
	json_obj(j, key);
	json_str(j, "backend", e->name[0] ? "posix" : "sysv");
	if (e->name[0]) {
		json_null(j, "key");
		json_null(j, "key_hex");
		json_str(j, "name", e->name);
	} else {
		json_uint(j, "key", (unsigned)e->key);
		json_str(j, "key_hex", hex);
		json_null(j, "name");
	}
	json_str(j, "state", ep_state(e));
	json_bool(j, "live", e->live);
	json_uint(j, "layout_major", e->layout_major);
	json_uint(j, "layout_minor", e->layout_minor);
	json_int(j, "server_pid", e->server_pid);
	json_uint(j, "server_uid", e->server_uid);
	json_str(j, "mode", mode);
	json_uint(j, "slots", e->slots);
	json_uint(j, "clients", e->clients);
	json_uint(j, "ring_size", e->ring_size);
	json_uint(j, "size", e->size);
	json_end(j);
}

static void json_slot(struct json *j, const shmq_slot_info *s)
{
	json_obj(j, NULL);
	json_uint(j, "slot", s->slot);
	json_uint(j, "gen", s->gen);
	json_str(j, "state", slot_state(s->state));
	json_int(j, "pid", s->pid);
	json_uint(j, "uid", s->uid);
	json_bool(j, "alive", s->alive);
	json_uint(j, "req_bytes", s->req_bytes);
	json_uint(j, "req_queued", s->req_depth);
	json_uint(j, "rep_bytes", s->rep_bytes);
	json_uint(j, "rep_queued", s->rep_depth);
	json_uint(j, "msgs_in", s->msgs_in);
	json_uint(j, "msgs_out", s->msgs_out);
	json_uint(j, "late_replies", s->late_replies);
	json_end(j);
}

/* {"shmq_version", "total", "endpoints": [...]}: total may exceed what is
 * listed (at most n). */
static void json_list(const shmq_endpoint_info *list, int total, int n)
{
	struct json j;
	json_init(&j, stdout);
	json_obj(&j, NULL);
	json_str(&j, "shmq_version", shmq_version());
	json_uint(&j, "total", (unsigned)total);
	json_arr(&j, "endpoints");
	for (int i = 0; i < total && i < n; i++)
		json_endpoint(&j, NULL, &list[i]);
	json_end(&j);
	json_end(&j);
}

/* {"shmq_version", "endpoint": {...}, "slots": [slots in use]} */
static void json_detail(const shmq_endpoint_info *e, const shmq_slot_info *slots, int n)
{
	struct json j;
	json_init(&j, stdout);
	json_obj(&j, NULL);
	json_str(&j, "shmq_version", shmq_version());
	json_endpoint(&j, "endpoint", e);
	json_arr(&j, "slots");
	for (int i = 0; i < n; i++)
		if (slots[i].state != 0)
			json_slot(&j, &slots[i]);
	json_end(&j);
	json_end(&j);
}

/* ---- text ------------------------------------------------------------------ */

static void print_header(void)
{
	printf("%-20s %-8s %8s %6s %4s %6s %9s %8s %10s %5s\n", "KEY/NAME", "STATE", "SERVER",
	       "UID", "MODE", "SLOTS", "RING", "CLIENTS", "BYTES", "LAYOUT");
}

int cmd_stat(int argc, char **argv)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	int one = 0, json = 0;
	static const struct option opts[] = { ENDPOINT_OPTS, { "json", no_argument, 0, 'j' },
					      { 0, 0, 0, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "k:n:m:jh", opts, NULL)) != -1) {
		if (c == 'k' || c == 'n')
			one = 1;
		if (endpoint_opt(c, optarg, &cfg))
			continue;
		if (c == 'j') {
			json = 1;
			continue;
		}
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
		if (json) {
			json_list(list, n, 256);
			return 0;
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
	if (n == -EPROTONOSUPPORT) {
		/* Another shmq's layout: what the header says, no slots. */
		free(slots);
		if (json) {
			json_detail(&info, NULL, 0);
			return 0;
		}
		print_header();
		print_endpoint(&info);
		printf("\n(made by a shmq with segment layout %u.%u; this one reads layout %d: "
		       "no slot details)\n",
		       info.layout_major, info.layout_minor, SHMQ_LAYOUT);
		return 0;
	}
	if (n < 0) {
		errorf("%s: %s", endpoint_str(&cfg), shmq_strerror(n));
		free(slots);
		return 1;
	}
	if (json) {
		json_detail(&info, slots, n < (int)SHMQ_MAX_SLOTS ? n : (int)SHMQ_MAX_SLOTS);
		free(slots);
		return 0;
	}
	print_header();
	print_endpoint(&info);
	printf("\n%5s %6s %-9s %8s %6s %5s %12s %10s %12s %10s %10s %10s %6s\n", "SLOT", "GEN",
	       "STATE", "PID", "UID", "ALIVE", "REQ_BYTES", "REQ_QUEUED", "REP_BYTES",
	       "REP_QUEUED", "MSGS_IN", "MSGS_OUT", "LATE");
	for (int i = 0; i < n; i++) {
		const shmq_slot_info *s = &slots[i];
		if (s->state == 0)
			continue;
		printf("%5u %6u %-9s %8d %6u %5s %12llu %10llu %12llu %10llu %10llu %10llu %6llu\n",
		       s->slot, s->gen, slot_state(s->state), (int)s->pid,
		       (unsigned)s->uid, s->alive ? "yes" : "no",
		       (unsigned long long)s->req_bytes, (unsigned long long)s->req_depth,
		       (unsigned long long)s->rep_bytes, (unsigned long long)s->rep_depth,
		       (unsigned long long)s->msgs_in, (unsigned long long)s->msgs_out,
		       (unsigned long long)s->late_replies);
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
