/* SPDX-License-Identifier: MIT */
/*
 * shmq bench: shmq against the other IPC transports of Linux, measured in
 * one run on this machine. Options and the order of the cases live here;
 * runner.c runs a case, report.c prints, transports.c lists the transports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "common.h"

static const size_t default_sizes[] = { 8, 64, 512, 4096, 65536, 1 << 20 };
static const size_t quick_sizes[] = { 64, 65536 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shmq bench [options]\n"
		"\n"
		"Measures round-trip latency (min, p50, p90, p99, p99.9, max) and one-way\n"
		"throughput of shmq and of the other IPC transports, two processes pinned to\n"
		"two CPUs, every message verified. Prints a table, ratios against shmq and a\n"
		"verdict on the classic ranking FIFO < message queue < shared memory.\n"
		"\n"
		"options:\n"
		"  --quick              every transport, sizes 64 B and 64 KiB, short phases\n"
		"                       (a smoke test: under 30 s)\n"
		"  --sizes LIST         message sizes, e.g. 8,64,4k,1M (8 B .. 16 MiB;\n"
		"                       default 8,64,512,4k,64k,1M)\n"
		"  --transports LIST    only these, by name or name/mode (see --list)\n"
		"  --clients N          many-clients runs with 1,2,4.. up to N clients against\n"
		"                       one server (default 8, --quick 2; 0: none)\n"
		"  --clients-size SIZE  message size of the many-clients runs (default 64)\n"
		"  --time MS            time budget of each timed phase (default 300, quick 10)\n"
		"  --retries N          run a case again, up to N times, while other load\n"
		"                       disturbed it (bg%% over 5), after waiting (5 s at\n"
		"                       most) for a quiet moment; keep the quietest run\n"
		"                       (default 2, --quick 0)\n"
		"  --cpus A,B           pin clients to CPU A and the server to CPU B\n"
		"                       (default: the first two CPUs we may use)\n"
		"  --json[=FILE]        JSON results (schema shmq-bench/1) to FILE, or instead\n"
		"                       of the table to standard output\n"
		"  --csv[=FILE]         CSV results (one row per case) to FILE or standard output\n"
		"  --raise-limits       as root, raise kernel.msgmax, kernel.msgmnb and\n"
		"                       fs.mqueue.msgsize_max for the run (restored at exit)\n"
		"  --list               list the transports and exit\n"
		"  -v, --verbose        progress on standard error\n"
		"  --fault KIND         test the checks: the first client drops, duplicates,\n"
		"                       reorders or corrupts one streamed message (drop, dup,\n"
		"                       reorder, corrupt); the run must then fail\n"
		"  -h, --help           this help\n"
		"\n"
		"Exit status: 0 all verified, 1 a case failed (lost, duplicated, reordered or\n"
		"corrupted message, or a transport error), 2 bad usage.\n");
}

static void list_transports(void)
{
	for (size_t i = 0; i < bench_ntransports; i++) {
		const struct transport *t = bench_transports[i];
		printf("%-14s %-12s %-7s %s%s%s\n", t->name, t->mode, t->family, t->what,
		       t->missing ? " -- " : "", t->missing ? t->missing : "");
	}
}

static int parse_sizes(const char *arg, struct bench_opts *o)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return -1;
	o->nsizes = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned long long v;
		if (o->nsizes == BENCH_MAX_SIZES) {
			errorf("too many sizes for --sizes (at most %d)", BENCH_MAX_SIZES);
			goto bad;
		}
		if (parse_size("--sizes", tok, &v) < 0)
			goto bad;
		if (v < BENCH_MIN_SIZE || v > BENCH_MAX_SIZE) {
			errorf("invalid size '%s' for --sizes (%d B .. 16 MiB)", tok, BENCH_MIN_SIZE);
			goto bad;
		}
		o->sizes[o->nsizes++] = (size_t)v;
	}
	free(copy);
	if (!o->nsizes) {
		errorf("empty list for --sizes");
		return -1;
	}
	return 0;
bad:
	free(copy);
	return -1;
}

static int select_transports(const char *arg, struct bench_opts *o)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return -1;
	memset(o->selected, 0, sizeof(o->selected));
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		if (slash)
			*slash = 0;
		int found = 0;
		for (size_t i = 0; i < bench_ntransports; i++) {
			const struct transport *t = bench_transports[i];
			if (strcmp(t->name, tok) || (slash && strcmp(t->mode, slash + 1)))
				continue;
			o->selected[i] = 1;
			found = 1;
		}
		if (!found) {
			errorf("unknown transport '%s%s%s' for --transports (see --list)", tok,
			       slash ? "/" : "", slash ? slash + 1 : "");
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

static int parse_fault(const char *arg, struct bench_opts *o)
{
	static const char *const names[] = { "none", "drop", "dup", "reorder", "corrupt" };
	for (int i = 0; i < 5; i++)
		if (!strcmp(arg, names[i])) {
			o->fault = i;
			return 0;
		}
	errorf("invalid value '%s' for --fault (drop, dup, reorder or corrupt)", arg);
	return -1;
}

static int parse_cpus(const char *arg, struct bench_opts *o)
{
	int a, b, n = -1;
	if (sscanf(arg, "%d,%d%n", &a, &b, &n) != 2 || n != (int)strlen(arg) || a < 0 || b < 0 ||
	    a >= CPU_SETSIZE || b >= CPU_SETSIZE || a == b) {
		errorf("invalid value '%s' for --cpus (two different CPU numbers: A,B)", arg);
		return -1;
	}
	o->cpu_a = a;
	o->cpu_b = b;
	return 0;
}

/* The first two CPUs we may run on. */
static void default_cpus(struct bench_opts *o)
{
	cpu_set_t set;
	o->cpu_a = o->cpu_b = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		if (o->cpu_a < 0)
			o->cpu_a = i;
		else if (o->cpu_b < 0)
			o->cpu_b = i;
	}
	if (o->cpu_b < 0)
		o->cpu_a = -1; /* one CPU: nothing to pin apart */
}

/* ---- --raise-limits ----------------------------------------------------------- */

/* Kernel limits that keep the message queues from taking large messages;
 * raised for the run, restored at exit. */
static struct limit {
	const char *path;
	char saved[32];
	int changed;
} limits[] = {
	{ "/proc/sys/kernel/msgmax" },          /* largest System V message */
	{ "/proc/sys/kernel/msgmnb" },          /* bytes in a System V queue */
	{ "/proc/sys/fs/mqueue/msgsize_max" },  /* largest POSIX mq message */
};
#define NLIMITS (sizeof(limits) / sizeof(limits[0]))

static void restore_limits(void)
{
	for (size_t i = 0; i < NLIMITS; i++) {
		if (!limits[i].changed)
			continue;
		FILE *f = fopen(limits[i].path, "w");
		if (f) {
			fputs(limits[i].saved, f);
			fclose(f);
		}
	}
}

static int raise_one(struct limit *l, size_t want)
{
	FILE *f = fopen(l->path, "r");
	if (!f)
		return -1;
	int ok = fgets(l->saved, sizeof(l->saved), f) != NULL;
	fclose(f);
	if (!ok || (size_t)strtoull(l->saved, NULL, 10) >= want)
		return 0;
	if (!(f = fopen(l->path, "w")))
		return -1;
	fprintf(f, "%zu\n", want);
	if (fclose(f) != 0)
		return -1;
	l->changed = 1;
	return 0;
}

static void raise_limits(size_t max_size)
{
	if (geteuid() != 0) {
		errorf("--raise-limits needs root; the message queues skip sizes over their limits");
		return;
	}
	atexit(restore_limits);
	size_t want[NLIMITS] = { max_size, 4 * max_size, max_size };
	for (size_t i = 0; i < NLIMITS; i++)
		if (raise_one(&limits[i], want[i]) < 0)
			errorf("cannot raise %s: %s", limits[i].path, strerror(errno));
}

/* ---- running -------------------------------------------------------------------- */

static struct case_result *results_add(struct bench_results *rs)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 64;
		struct case_result *v = realloc(rs->v, cap * sizeof(*v));
		if (!v) {
			errorf("out of memory");
			exit(1);
		}
		rs->v = v;
		rs->cap = cap;
	}
	return &rs->v[rs->n++];
}

static void progress(const struct bench_opts *o, const struct case_result *r, unsigned i,
		     unsigned total)
{
	if (r->status == RES_FAIL)
		fprintf(stderr, "%s: %s %s, %zu B, %u client(s): FAILED: %s\n", prog, r->t->name,
			r->t->mode, r->size, r->nclients, r->note);
	if (!o->progress)
		return;
	fprintf(stderr, "[%3u/%3u] %-14s %-12s %8zu B %2u cl: ", i, total, r->t->name,
		r->t->mode, r->size, r->nclients);
	if (r->status == RES_SKIP)
		fprintf(stderr, "skipped (%s)\n", r->note);
	else if (r->status == RES_FAIL)
		fprintf(stderr, "FAILED\n");
	else
		fprintf(stderr, "p50 %.2f us, %.0f msgs/s\n", r->lat.p50 / 1e3, r->msgs_per_s);
}

/* Before a retry: wait (up to 5 s) for a 100 ms window in which others
 * used under 5% of the machine. We run nothing meanwhile, so all the busy
 * time is theirs. Not synchronisation: a pause for a quieter machine. */
static void wait_for_quiet(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct cpu_times a, b;
		cpu_times_read(&a);
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		cpu_times_read(&b);
		uint64_t busy = b.busy - a.busy + b.steal - a.steal;
		uint64_t all = busy + b.idle - a.idle;
		if (!a.ok || !b.ok || !all || busy * 20 < all)
			return;
	}
}

/* Run a case; while the machine was busy with others during it (bg% over
 * 5), run it again, up to --retries times, and keep the quietest run. */
static void run_quiet(const struct bench_opts *o, const struct transport *t, size_t size,
		      unsigned n, int with_idle, struct case_result *r)
{
	bench_run_case(o, t, size, n, with_idle, r);
	for (unsigned i = 0; i < o->retries && r->status == RES_OK; i++) {
		double bg = r->other_pct + r->steal_pct;
		if (bg <= 5)
			break;
		wait_for_quiet();
		struct case_result again;
		bench_run_case(o, t, size, n, with_idle, &again);
		if (again.status != RES_OK) {
			*r = again; /* a failure is never hidden by a retry */
			break;
		}
		if (again.other_pct + again.steal_pct < bg)
			*r = again;
	}
}

static int runs_at(const struct transport *t)
{
	return (t->caps & (TP_LAT | TP_TPUT)) != 0;
}

static unsigned count_cases(const struct bench_opts *o, unsigned *multi_n, unsigned nmulti)
{
	unsigned total = 0;
	for (size_t i = 0; i < bench_ntransports; i++)
		if (o->selected[i] && runs_at(bench_transports[i]))
			total += o->nsizes;
	for (unsigned k = 0; k < nmulti; k++)
		for (size_t i = 0; i < bench_ntransports; i++) {
			const struct transport *t = bench_transports[i];
			if (o->selected[i] && (t->caps & TP_MULTI) && !t->reserve)
				total++;
		}
	(void)multi_n;
	return total;
}

static void run_all(const struct bench_opts *o, struct bench_results *rs)
{
	unsigned ns[8], nn = 0;
	for (unsigned n = 1; o->max_clients && n <= o->max_clients && nn < 7; n *= 2)
		ns[nn++] = n;
	if (o->max_clients && ns[nn - 1] != o->max_clients)
		ns[nn++] = o->max_clients;
	unsigned total = count_cases(o, ns, nn), done = 0;

	for (unsigned k = 0; k < o->nsizes; k++) {
		for (size_t i = 0; i < bench_ntransports; i++) {
			const struct transport *t = bench_transports[i];
			if (!o->selected[i] || !runs_at(t))
				continue;
			struct case_result *r = results_add(rs);
			run_quiet(o, t, o->sizes[k], 1, k == 0, r);
			rs->failures += r->status == RES_FAIL;
			progress(o, r, ++done, total);
		}
	}
	/* Many clients: the multi-capable transports, copying mode. */
	for (unsigned m = 0; m < nn; m++) {
		for (size_t i = 0; i < bench_ntransports; i++) {
			const struct transport *t = bench_transports[i];
			if (!o->selected[i] || !(t->caps & TP_MULTI) || t->reserve)
				continue;
			/* One client at multi_size may already be in the tables. */
			struct case_result *have = results_find(rs, t->name, t->mode, o->multi_size,
								ns[m]);
			if (have) {
				done++;
				continue;
			}
			struct case_result *r = results_add(rs);
			run_quiet(o, t, o->multi_size, ns[m], 0, r);
			rs->failures += r->status == RES_FAIL;
			progress(o, r, ++done, total);
		}
	}
}

static FILE *open_out(const char *path, int *close_it)
{
	*close_it = 0;
	if (!strcmp(path, "-"))
		return stdout;
	FILE *f = fopen(path, "w");
	if (!f) {
		errorf("cannot write %s: %s", path, strerror(errno));
		return NULL;
	}
	*close_it = 1;
	return f;
}

static int write_outputs(const struct bench_opts *o, const struct bench_results *rs)
{
	int rc = 0;
	if (o->table) {
		printf("shmq bench %s (%s)\n", shmq_version(), o->quick ? "--quick" : "full run");
		machine_info_print(stdout, &bench_machine);
		printf("processes: client on CPU %d, server on CPU %d; phases of %.0f ms\n",
		       o->cpu_a, o->cpu_b, (double)o->phase_ns / 1e6);
		report_table(stdout, o, rs);
		report_verdict(stdout, o, rs);
		report_targets(stdout, o, rs);
		report_verification(stdout, rs);
		if (rs->failures)
			printf("\nFAILED: %u case(s) failed, see above.\n", rs->failures);
	}
	int c;
	FILE *f;
	if (o->json && (f = open_out(o->json, &c))) {
		report_json(f, o, rs);
		if (c && fclose(f) != 0)
			rc = -1;
	} else if (o->json) {
		rc = -1;
	}
	if (o->csv && (f = open_out(o->csv, &c))) {
		report_csv(f, rs);
		if (c && fclose(f) != 0)
			rc = -1;
	} else if (o->csv) {
		rc = -1;
	}
	fflush(stdout);
	return rc;
}

int bench_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, 0, 'q' },
		{ "sizes", required_argument, 0, 's' },
		{ "transports", required_argument, 0, 't' },
		{ "clients", required_argument, 0, 'c' },
		{ "clients-size", required_argument, 0, 'S' },
		{ "time", required_argument, 0, 'T' },
		{ "cpus", required_argument, 0, 'C' },
		{ "json", optional_argument, 0, 'j' },
		{ "csv", optional_argument, 0, 'x' },
		{ "raise-limits", no_argument, 0, 'R' },
		{ "list", no_argument, 0, 'l' },
		{ "verbose", no_argument, 0, 'v' },
		{ "fault", required_argument, 0, 'F' },
		{ "retries", required_argument, 0, 'r' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct bench_opts o = { .multi_size = 64, .table = 1 };
	int have_sizes = 0, have_time = 0, have_clients = 0, have_cpus = 0, have_retries = 0, c;
	unsigned long long v;

	memset(o.selected, 1, sizeof(o.selected));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o.quick = 1;
			break;
		case 's':
			if (parse_sizes(optarg, &o) < 0)
				return 2;
			have_sizes = 1;
			break;
		case 't':
			if (select_transports(optarg, &o) < 0)
				return 2;
			break;
		case 'c':
			if (parse_u64("--clients", optarg, 0, BENCH_MAX_CLIENTS, &v) < 0)
				return 2;
			o.max_clients = (unsigned)v;
			have_clients = 1;
			break;
		case 'S':
			if (parse_size("--clients-size", optarg, &v) < 0)
				return 2;
			if (v < BENCH_MIN_SIZE || v > BENCH_MAX_SIZE) {
				errorf("invalid size '%s' for --clients-size (8 B .. 16 MiB)", optarg);
				return 2;
			}
			o.multi_size = (size_t)v;
			break;
		case 'T':
			if (parse_u64("--time", optarg, 1, 60000, &v) < 0)
				return 2;
			o.phase_ns = v * 1000000ull;
			have_time = 1;
			break;
		case 'C':
			if (parse_cpus(optarg, &o) < 0)
				return 2;
			have_cpus = 1;
			break;
		case 'j':
			o.json = optarg ? optarg : "-";
			break;
		case 'x':
			o.csv = optarg ? optarg : "-";
			break;
		case 'R':
			o.raise_limits = 1;
			break;
		case 'l':
			list_transports();
			return 0;
		case 'v':
			o.progress = 1;
			break;
		case 'F':
			if (parse_fault(optarg, &o) < 0)
				return 2;
			break;
		case 'r':
			if (parse_u64("--retries", optarg, 0, 10, &v) < 0)
				return 2;
			o.retries = (unsigned)v;
			have_retries = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			errorf("option '%s' needs a value (see 'shmq bench --help')", argv[optind - 1]);
			return 2;
		default:
			errorf("unknown option '%s' (see 'shmq bench --help')", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		errorf("unexpected argument '%s' (see 'shmq bench --help')", argv[optind]);
		return 2;
	}
	if ((o.json && !strcmp(o.json, "-")) || (o.csv && !strcmp(o.csv, "-")))
		o.table = 0;
	if (o.json && o.csv && !strcmp(o.json, "-") && !strcmp(o.csv, "-")) {
		errorf("--json and --csv cannot both go to standard output");
		return 2;
	}
	if (!have_sizes) {
		const size_t *s = o.quick ? quick_sizes : default_sizes;
		o.nsizes = o.quick ? 2 : 6;
		memcpy(o.sizes, s, o.nsizes * sizeof(*s));
	}
	if (!have_time)
		o.phase_ns = (o.quick ? 10 : 300) * 1000000ull;
	o.idle_ns = o.quick ? 20000000ull : 200000000ull;
	if (!have_clients)
		o.max_clients = o.quick ? 2 : 8;
	if (!have_retries)
		o.retries = o.quick ? 0 : 2;
	if (!have_cpus)
		default_cpus(&o);

	if (o.raise_limits) {
		size_t mx = o.multi_size;
		for (unsigned k = 0; k < o.nsizes; k++)
			mx = o.sizes[k] > mx ? o.sizes[k] : mx;
		raise_limits(mx);
	}
	machine_info_get(&bench_machine);
	int rc = bench_runner_init(&o);
	if (rc < 0) {
		errorf("cannot set up: %s", strerror(-rc));
		return 1;
	}
	struct bench_results rs = { 0 };
	run_all(&o, &rs);
	if (write_outputs(&o, &rs) < 0)
		rc = -1;
	free(rs.v);
	return rs.failures || rc < 0 ? 1 : 0;
}
