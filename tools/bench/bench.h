/* SPDX-License-Identifier: MIT */
/* Internals of `shmq bench` shared by its files (not by transports). */
#ifndef SHMQ_BENCH_H
#define SHMQ_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "transport.h"

#define BENCH_MAX_SIZES 32
#define BENCH_MAX_CLIENTS 64
#define BENCH_MIN_SIZE 8
#define BENCH_MAX_SIZE (16ull << 20)

/* ---- messages (msg.c) ---------------------------------------------------- */
/*
 * Every message is `size` bytes: a 32-bit sequence number, a 32-bit check
 * word, then the payload. The sender stamps the sequence number and writes
 * the first and last 8 payload bytes from it; every FULL_EVERY-th message it
 * also refills the whole payload with a pattern derived from the sequence
 * number, and the check word covers a checksum of the whole payload. The
 * receiver verifies, on every message: the exact length, the sequence number
 * (so a lost, duplicated or reordered message is caught), the first and last
 * payload bytes and the check word; and on every FULL_EVERY-th message the
 * checksum of the whole payload.
 */
#define MSG_FULL_EVERY 64u
#define SEQ_FIN 0xffffffffu /* end of a phase; echoed back */
#define SEQ_ACK 0xfffffffeu /* warm-up done */

uint32_t msg_seq(const void *buf);
static inline int msg_is_full(uint32_t seq)
{
	return seq % MSG_FULL_EVERY == 0 || seq >= SEQ_ACK;
}
void msg_stamp(void *buf, size_t len, uint32_t seq);
/* 0, or -1 with a description in err. */
int msg_check(const void *buf, size_t len, size_t want, uint32_t seq, char *err, size_t n);
int msg_check_full(const void *buf, size_t len, char *err, size_t n);

/* ---- options ------------------------------------------------------------- */
struct bench_opts {
	int quick;
	uint64_t phase_ns; /* time budget of each timed phase */
	uint64_t idle_ns;  /* idle phase */
	size_t sizes[BENCH_MAX_SIZES];
	unsigned nsizes;
	unsigned max_clients; /* 0: no many-clients section */
	size_t multi_size;
	const char *json; /* NULL, or a path ("-" = stdout) */
	const char *csv;
	int table;        /* print the human table on stdout */
	int progress;     /* progress lines on stderr */
	int raise_limits; /* root: raise kernel.msgmax for the run */
	unsigned char selected[256]; /* by index in bench_transports */
	int cpu_a, cpu_b; /* client and server CPUs, -1 = unpinned */
	int fault;        /* --fault: FAULT_* (testing the checks) */
	unsigned retries; /* runs again of a case disturbed by other load */
};

enum { FAULT_NONE, FAULT_DROP, FAULT_DUP, FAULT_REORDER, FAULT_CORRUPT };

/* ---- results ------------------------------------------------------------- */
enum { RES_OK, RES_SKIP, RES_FAIL };

struct lat_stats {
	uint64_t n;
	double min, p50, p90, p99, p999, max; /* ns */
};

struct case_result {
	const struct transport *t;
	size_t size;
	unsigned nclients;
	int status;
	char note[256];
	int has_lat, has_tput, has_idle;
	struct lat_stats lat;
	double rt_per_s;  /* aggregate round trips per second */
	double msgs_per_s;
	double bytes_per_s;
	double cpu_pct;   /* CPU time of our processes / wall, 100 = one CPU */
	double other_pct; /* other CPU use on the machine, % of all CPUs */
	double steal_pct;
	double idle_cpu_pct; /* server CPU while waiting for a message */
	uint64_t verified, verified_full;
	double fair_min, fair_max;       /* streaming: per-client count / mean */
	double fair_rt_min, fair_rt_max; /* ping-pong: per-client count / mean */
};

struct bench_results {
	struct case_result *v;
	size_t n, cap;
	unsigned failures;
};

/* bench.c: `shmq bench` with its arguments (argv[0] is the command's name);
 * returns the exit status: 0 all verified, 1 a case failed, 2 bad usage. */
int bench_main(int argc, char **argv);

/* runner.c */
int bench_runner_init(const struct bench_opts *o);
void bench_run_case(const struct bench_opts *o, const struct transport *t, size_t size,
		    unsigned nclients, int with_idle, struct case_result *r);

/* report.c */
struct case_result *results_find(const struct bench_results *rs, const char *name,
				 const char *mode, size_t size, unsigned nclients);
void report_table(FILE *f, const struct bench_opts *o, const struct bench_results *rs);
void report_verdict(FILE *f, const struct bench_opts *o, const struct bench_results *rs);
void report_verification(FILE *f, const struct bench_results *rs);
void report_targets(FILE *f, const struct bench_opts *o, const struct bench_results *rs);
void report_json(FILE *f, const struct bench_opts *o, const struct bench_results *rs);
void report_csv(FILE *f, const struct bench_results *rs);

/* sysinfo.c */
struct cpu_times {
	uint64_t busy, idle, steal; /* jiffies, all CPUs */
	int ok;
};
void cpu_times_read(struct cpu_times *t);
struct machine_info {
	char cpu[128];
	unsigned ncpu;
	char kernel[128];
	char virt[128];
	double timer_ns; /* cost of one clock read */
};
void machine_info_get(struct machine_info *m);
void machine_info_print(FILE *f, const struct machine_info *m);
extern struct machine_info bench_machine;

#endif
