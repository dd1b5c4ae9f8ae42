/* SPDX-License-Identifier: MIT */
/*
 * report.c - the human table, the verdict, JSON and CSV.
 *
 * JSON schema "shmq-bench/1" (stable: fields are only ever added):
 *   {
 *     "schema": "shmq-bench/1",
 *     "shmq_version": "0.1.0",
 *     "machine": { "cpu": str, "ncpu": int, "kernel": str, "virt": str,
 *                  "timer_ns": num },
 *     "config":  { "quick": bool, "phase_ms": num, "idle_ms": num,
 *                  "sizes": [int], "clients": int, "multi_size": int,
 *                  "cpus": [int, int] },
 *     "records": [ { "transport": str, "mode": str, "family": str,
 *                    "size": int, "clients": int, "metric": str,
 *                    "value": num, "unit": str }, ... ],
 *     "cases":   [ { "transport": str, "mode": str, "size": int,
 *                    "clients": int, "status": "ok"|"skipped"|"failed",
 *                    "note": str }, ... ],
 *     "verdict": [ str, ... ],
 *     "ok": bool
 *   }
 * One record per transport, mode, size, clients and metric. Metrics (unit):
 *   rtt_min rtt_p50 rtt_p90 rtt_p99 rtt_p999 rtt_max (ns)  round trip
 *   rtt_samples (count), round_trips_per_s (1/s, all clients together)
 *   msgs_per_s (1/s), bytes_per_s (B/s)                  one-way streaming
 *   cpu (%, 100 = one CPU busy: our processes' CPU time / wall time)
 *   background (%, of all CPUs: CPU used by other processes meanwhile)
 *   steal (%, of all CPUs: time the hypervisor gave to others)
 *   idle_cpu (%, the server's CPU use while waiting with nothing to do)
 *   verified, verified_full (count: messages checked, fully checksummed)
 *   fairness_min fairness_max (ratio to the mean, per-client streaming share)
 *   rt_fairness_min rt_fairness_max (ratio to the mean, per-client round trips)
 * References (transport "ref-*") have no verified counts. ref-cacheline and
 * ref-futex carry no payload; they are measured again at every size.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "shmq.h"

#define RULE "----------------------------------------------------------------------------"

struct case_result *results_find(const struct bench_results *rs, const char *name,
				 const char *mode, size_t size, unsigned nclients)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct case_result *r = &rs->v[i];
		if (r->size == size && r->nclients == nclients && !strcmp(r->t->name, name) &&
		    (!mode || !strcmp(r->t->mode, mode)))
			return r;
	}
	return NULL;
}

static const char *size_str(size_t s)
{
	static char buf[4][32];
	static int k;
	char *b = buf[k++ & 3];
	if (s >= (1u << 20) && s % (1u << 20) == 0)
		snprintf(b, 32, "%zu MiB", s >> 20);
	else if (s >= 1024 && s % 1024 == 0)
		snprintf(b, 32, "%zu KiB", s >> 10);
	else
		snprintf(b, 32, "%zu B", s);
	return b;
}

/* Microseconds with 3 significant-ish digits, from nanoseconds. */
static const char *us(double ns)
{
	static char buf[8][16];
	static int k;
	char *b = buf[k++ & 7];
	double u = ns / 1000.0;
	if (u < 10)
		snprintf(b, 16, "%.2f", u);
	else if (u < 100)
		snprintf(b, 16, "%.1f", u);
	else
		snprintf(b, 16, "%.0f", u);
	return b;
}

static const char *ratio(double x)
{
	static char buf[8][16];
	static int k;
	char *b = buf[k++ & 7];
	if (!(x > 0) || !isfinite(x))
		snprintf(b, 16, "-");
	else if (x < 10)
		snprintf(b, 16, "%.2fx", x);
	else
		snprintf(b, 16, "%.0fx", x);
	return b;
}

static const char *rate(double v)
{
	static char buf[8][16];
	static int k;
	char *b = buf[k++ & 7];
	if (v >= 1e6)
		snprintf(b, 16, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(b, 16, "%.1fk", v / 1e3);
	else
		snprintf(b, 16, "%.0f", v);
	return b;
}

static const char *label(const struct transport *t)
{
	static char buf[4][48];
	static int k;
	char *b = buf[k++ & 3];
	snprintf(b, 48, "%s %s", t->name, t->mode);
	return b;
}

static const char *load_str(const struct case_result *r)
{
	static char buf[4][24];
	static int k;
	char *b = buf[k++ & 3];
	double bg = r->other_pct + r->steal_pct;
	snprintf(b, 24, "%4.0f %4.1f%s", r->cpu_pct, bg, bg > 5 ? "!" : " ");
	return b;
}

static void row_status(FILE *f, const struct case_result *r)
{
	fprintf(f, "%-26s %s: %s\n", label(r->t), r->status == RES_SKIP ? "skipped" : "FAILED",
		r->note);
}

static void table_latency(FILE *f, const struct bench_results *rs, size_t size)
{
	const struct case_result *busy = results_find(rs, "shmq", "busy", size, 1);
	const struct case_result *blk = results_find(rs, "shmq", "block", size, 1);
	double b50 = busy && busy->has_lat ? busy->lat.p50 : 0;
	double k50 = blk && blk->has_lat ? blk->lat.p50 : 0;

	fprintf(f, "Round trip (us)                min    p50    p90    p99  p99.9    max"
		   "  vs busy vs block  cpu%%  bg%%\n");
	for (size_t i = 0; i < rs->n; i++) {
		const struct case_result *r = &rs->v[i];
		if (r->size != size || r->nclients != 1 || !(r->t->caps & TP_LAT))
			continue;
		if (r->status != RES_OK) {
			row_status(f, r);
			continue;
		}
		if (!r->has_lat)
			continue;
		fprintf(f, "%-26s %6s %6s %6s %6s %6s %6s %8s %8s %s\n", label(r->t),
			us(r->lat.min), us(r->lat.p50), us(r->lat.p90), us(r->lat.p99),
			us(r->lat.p999), us(r->lat.max), ratio(b50 ? r->lat.p50 / b50 : 0),
			ratio(k50 ? r->lat.p50 / k50 : 0), load_str(r));
	}
}

static void table_tput(FILE *f, const struct bench_results *rs, size_t size)
{
	const struct case_result *busy = results_find(rs, "shmq", "busy", size, 1);
	const struct case_result *blk = results_find(rs, "shmq", "block", size, 1);
	double bm = busy && busy->has_tput ? busy->msgs_per_s : 0;
	double km = blk && blk->has_tput ? blk->msgs_per_s : 0;

	fprintf(f, "One-way stream                msgs/s       MB/s  vs busy vs block  cpu%%  bg%%"
		   "  idle-cpu%%\n");
	for (size_t i = 0; i < rs->n; i++) {
		const struct case_result *r = &rs->v[i];
		if (r->size != size || r->nclients != 1 || !(r->t->caps & TP_TPUT))
			continue;
		if (r->status != RES_OK) {
			row_status(f, r);
			continue;
		}
		if (!r->has_tput)
			continue;
		char idle[16] = "";
		if (r->has_idle)
			snprintf(idle, sizeof(idle), "%9.1f", r->idle_cpu_pct);
		fprintf(f, "%-26s %9s %10.1f %8s %8s %s %s\n", label(r->t), rate(r->msgs_per_s),
			r->bytes_per_s / 1e6, ratio(bm && r->msgs_per_s ? bm / r->msgs_per_s : 0),
			ratio(km && r->msgs_per_s ? km / r->msgs_per_s : 0), load_str(r), idle);
	}
}

static void table_multi(FILE *f, const struct bench_opts *o, const struct bench_results *rs)
{
	int any = 0;
	for (size_t i = 0; i < rs->n; i++)
		any |= rs->v[i].nclients > 1;
	if (!any)
		return;
	fprintf(f, "\n== Many clients against one server, %s messages " RULE "\n"
		   "                         clients  round trips/s  p50 us  p99 us  fair  "
		   "msgs/s  vs 1   fair    cpu%%  bg%%\n",
		size_str(o->multi_size));
	for (size_t i = 0; i < rs->n; i++) {
		const struct case_result *r = &rs->v[i];
		if (r->size != o->multi_size || !(r->t->caps & TP_MULTI) || r->nclients < 1)
			continue;
		const struct case_result *one =
			results_find(rs, r->t->name, r->t->mode, r->size, 1);
		if (!results_find(rs, r->t->name, r->t->mode, r->size, 2) && r->nclients == 1)
			continue; /* not part of the many-clients runs */
		if (r->status != RES_OK) {
			fprintf(f, "%-24s %3u  ", label(r->t), r->nclients);
			fprintf(f, "%s: %s\n", r->status == RES_SKIP ? "skipped" : "FAILED",
				r->note);
			continue;
		}
		double base = one && one->has_tput ? one->msgs_per_s : 0;
		fprintf(f, "%-24s %3u %14s %7s %7s %5.2f %7s %5.0f%% %5.2f  %s\n", label(r->t),
			r->nclients, rate(r->rt_per_s), us(r->lat.p50), us(r->lat.p99),
			r->fair_rt_min, rate(r->msgs_per_s),
			base ? 100.0 * r->msgs_per_s / base : 0, r->fair_min, load_str(r));
	}
	fprintf(f, "fair: the slowest client's share / the mean share (1.00 = even; 0.50 = "
		   "a client got half its share).\n");
}

void report_table(FILE *f, const struct bench_opts *o, const struct bench_results *rs)
{
	for (unsigned k = 0; k < o->nsizes; k++) {
		size_t size = o->sizes[k];
		fprintf(f, "\n== %s messages " RULE "\n", size_str(size));
		table_latency(f, rs, size);
		fprintf(f, "\n");
		table_tput(f, rs, size);
	}
	table_multi(f, o, rs);
	fprintf(f, "\nvs busy / vs block: how many times better shmq busy-poll / blocking is "
		   "(latency: row p50 / shmq p50;\n"
		   "throughput: shmq msgs/s / row msgs/s); above 1 shmq wins. cpu%%: our "
		   "processes' CPU / wall (100 = one\nCPU). bg%%: other load + steal on the "
		   "machine during the case, %% of all CPUs ('!' above 5%%: noisy).\n"
		   "idle-cpu%%: the server's CPU use while it waited %.0f ms for a message.\n",
		(double)o->idle_ns / 1e6);
}

/* ---- verdict ---------------------------------------------------------------- */

struct cand {
	const char *name, *mode, *label;
};

static const struct cand tutorial[] = {
	{ "fifo", "copy", "FIFO" },
	{ "sysv-msg", "copy", "SysV msg queue" },
	{ "posix-mq", "copy", "POSIX mq" },
	{ "shm-sysv-sem", "copy", "shm+SysV sem" },
	{ "shm-posix-sem", "copy", "shm+POSIX sem" },
	{ "shmq", "block", "shmq blocking" },
	{ "shmq", "adaptive", "shmq adaptive" },
	{ "shmq", "busy", "shmq busy-poll" },
};
#define NCAND (sizeof(tutorial) / sizeof(tutorial[0]))

/* metric 0: p50 latency (lower is better), 1: msgs/s (higher is better);
 * returns 0 when not measured. */
static double metric(const struct bench_results *rs, const struct cand *c, size_t size, int m)
{
	const struct case_result *r = results_find(rs, c->name, c->mode, size, 1);
	if (!r || r->status != RES_OK)
		return 0;
	if (m == 0)
		return r->has_lat ? r->lat.p50 : 0;
	return r->has_tput ? r->msgs_per_s : 0;
}

/* a better than b? */
static int better(double a, double b, int m)
{
	return m == 0 ? a < b : a > b;
}

static const char *fmt_metric(double v, int m)
{
	static char buf[16][24];
	static int k;
	char *b = buf[k++ & 15];
	if (m == 0)
		snprintf(b, 24, "%s us", us(v));
	else
		snprintf(b, 24, "%s/s", rate(v));
	return b;
}

static void ranking(FILE *f, const struct bench_results *rs, size_t size, int m)
{
	int idx[NCAND], n = 0;
	for (unsigned i = 0; i < NCAND; i++)
		if (metric(rs, &tutorial[i], size, m) > 0)
			idx[n++] = (int)i;
	if (n < 2)
		return;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && better(metric(rs, &tutorial[idx[j]], size, m),
						metric(rs, &tutorial[idx[j - 1]], size, m), m);
		     j--) {
			int t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	fprintf(f, "  %-8s %-10s", size_str(size), m == 0 ? "latency" : "throughput");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%s %s", i ? " > " : " ", tutorial[idx[i]].label,
			fmt_metric(metric(rs, &tutorial[idx[i]], size, m), m));
	fprintf(f, "\n");
}

/* "a beats b" over the sizes: lists where it holds and where not. Ties
 * (within 5%) count as not holding. Returns how many sizes held. */
static int claim(FILE *f, const struct bench_opts *o, const struct bench_results *rs,
		 const struct cand *a, const struct cand *b, int m)
{
	char yes[256] = "", no[256] = "";
	int ny = 0, nn = 0;
	for (unsigned k = 0; k < o->nsizes; k++) {
		double va = metric(rs, a, o->sizes[k], m), vb = metric(rs, b, o->sizes[k], m);
		if (!va || !vb)
			continue;
		double gain = m == 0 ? vb / va : va / vb; /* > 1: a is better */
		char item[48];
		snprintf(item, sizeof(item), "%s%s (%.2fx)", (gain > 1.05 ? ny : nn) ? ", " : "",
			 size_str(o->sizes[k]), gain);
		if (gain > 1.05) {
			strncat(yes, item, sizeof(yes) - strlen(yes) - 1);
			ny++;
		} else {
			strncat(no, item, sizeof(no) - strlen(no) - 1);
			nn++;
		}
	}
	if (!ny && !nn)
		return -1;
	fprintf(f, "    %-14s vs %-14s %-10s ", a->label, b->label, m == 0 ? "latency:" : "throughput:");
	if (ny)
		fprintf(f, "holds at %s", yes);
	if (nn)
		fprintf(f, "%snot at %s", ny ? "; " : "", no);
	fprintf(f, "\n");
	return ny;
}

/* Rank of candidate c among the measured ones at a size (1 = best), and how
 * many were measured; 0 if c was not. */
static int rank_of(const struct bench_results *rs, const struct cand *c, size_t size, int m,
		   int *of)
{
	double v = metric(rs, c, size, m);
	int r = 1, n = 0;
	for (unsigned i = 0; i < NCAND; i++) {
		double w = metric(rs, &tutorial[i], size, m);
		if (!w)
			continue;
		n++;
		if (better(w, v, m))
			r++;
	}
	*of = n;
	return v ? r : 0;
}

static void fifo_rank(FILE *f, const struct bench_opts *o, const struct bench_results *rs)
{
	for (int m = 0; m < 2; m++) {
		fprintf(f, "    FIFO's rank (1 = best) in %-11s", m == 0 ? "latency:" : "throughput:");
		for (unsigned k = 0; k < o->nsizes; k++) {
			int of, r = rank_of(rs, &tutorial[0], o->sizes[k], m, &of);
			if (r)
				fprintf(f, " %s %d/%d%s", size_str(o->sizes[k]), r, of,
					k + 1 < o->nsizes ? "," : "");
		}
		fprintf(f, "\n");
	}
}

/* Where the best shmq mode (candidates first..NCAND-1) beats every other
 * measured candidate. */
static void fastest(FILE *f, const struct bench_opts *o, const struct bench_results *rs,
		    unsigned first, int m)
{
	char yes[256] = "", no[256] = "";
	for (unsigned k = 0; k < o->nsizes; k++) {
		int of, r = 0;
		for (unsigned i = first; i < NCAND; i++) {
			int ri = rank_of(rs, &tutorial[i], o->sizes[k], m, &of);
			if (ri && (!r || ri < r))
				r = ri;
		}
		if (!r)
			continue;
		char *dst = r == 1 ? yes : no;
		size_t len = strlen(dst);
		snprintf(dst + len, 256 - len, "%s%s", len ? ", " : "", size_str(o->sizes[k]));
	}
	if (!yes[0] && !no[0])
		return;
	fprintf(f, "    %-14s fastest of the 8 in %-11s %s%s%s%s\n", "shmq (best mode)",
		m == 0 ? "latency:" : "throughput:", yes[0] ? "at " : "", yes,
		no[0] ? (yes[0] ? "; not at " : "not at ") : "", no);
}

/* The blocking transports' spread in p50 latency at a size, against the
 * futex wake-up floor: how much of their latency is the wake-up itself. */
static void reading(FILE *f, const struct bench_opts *o, const struct bench_results *rs)
{
	size_t size = o->sizes[0];
	for (unsigned k = 0; k < o->nsizes; k++)
		if (o->sizes[k] == 64)
			size = 64;
	double lo = 0, hi = 0;
	for (unsigned i = 0; i < 6; i++) { /* FIFO .. shmq blocking: everyone sleeps */
		double v = metric(rs, &tutorial[i], size, 0);
		if (!v)
			continue;
		lo = !lo || v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	const struct case_result *fx = results_find(rs, "ref-futex", "block", size, 1);
	double floor = fx && fx->status == RES_OK && fx->has_lat ? fx->lat.p50 : 0;
	double busy = metric(rs, &tutorial[7], size, 0);
	fprintf(f, "Reading, at %s:", size_str(size));
	if (lo && hi)
		fprintf(f, " the transports that sleep (FIFO, queues, semaphore hybrids, shmq "
			   "blocking) lie within\n  %.2fx of each other in p50 latency "
			   "(%s .. %s us)",
			hi / lo, us(lo), us(hi));
	if (lo && floor)
		fprintf(f, ", the fastest at %.2fx the bare futex wake-up (%s us):\n"
			   "  the cross-CPU wake-up, not the transport, decides their latency",
			lo / floor, us(floor));
	if (busy && lo)
		fprintf(f, ". Shared memory that does not\n  sleep (shmq busy-poll, "
			   "%s us) is %.0fx faster than the fastest of them",
			us(busy), lo / busy);
	double best_kernel = 0, shmq_best = 0;
	for (unsigned i = 0; i < 5; i++) {
		double v = metric(rs, &tutorial[i], size, 1);
		best_kernel = v > best_kernel ? v : best_kernel;
	}
	for (unsigned i = 5; i < NCAND; i++) {
		double v = metric(rs, &tutorial[i], size, 1);
		shmq_best = v > shmq_best ? v : shmq_best;
	}
	if (best_kernel && shmq_best)
		fprintf(f, ". In throughput\n  shmq (best mode, %s/s) is %.1fx the best "
			   "FIFO, queue or semaphore hybrid (%s/s)",
			rate(shmq_best), shmq_best / best_kernel, rate(best_kernel));
	fprintf(f, ".\n");
}

void report_verdict(FILE *f, const struct bench_opts *o, const struct bench_results *rs)
{
	const struct cand *fifo = &tutorial[0], *sysv = &tutorial[1], *pmq = &tutorial[2];
	const struct cand *svsem = &tutorial[3], *pxsem = &tutorial[4], *blk = &tutorial[5];
	const struct cand *kern[] = { fifo, sysv, pmq };

	fprintf(f, "\n== Verdict on the tutorial's table " RULE "\n");
	fprintf(f, "The tutorial: FIFO \"moderate\", message queues \"faster than FIFO\", "
		   "shared memory \"fastest\".\nMeasured ranking (p50 round trip; "
		   "one-way msgs/s), best first:\n");
	for (unsigned k = 0; k < o->nsizes; k++) {
		ranking(f, rs, o->sizes[k], 0);
		ranking(f, rs, o->sizes[k], 1);
	}
	fprintf(f, "Claim \"FIFO is moderate\" (in the middle of the 8):\n");
	fifo_rank(f, o, rs);
	fprintf(f, "Claim \"message queues are faster than FIFO\" (a gain under 5%% counts as "
		   "a tie, not a win):\n");
	for (int m = 0; m < 2; m++) {
		claim(f, o, rs, sysv, fifo, m);
		claim(f, o, rs, pmq, fifo, m);
	}
	fprintf(f, "Claim \"shared memory is fastest\":\n");
	for (int m = 0; m < 2; m++)
		fastest(f, o, rs, 5, m);
	for (int m = 0; m < 2; m++)
		for (unsigned i = 0; i < 3; i++)
			claim(f, o, rs, blk, kern[i], m);
	for (int m = 0; m < 2; m++)
		for (unsigned i = 0; i < 3; i++) {
			claim(f, o, rs, pxsem, kern[i], m);
			claim(f, o, rs, svsem, kern[i], m);
		}
	reading(f, o, rs);
}

/* A transport's verification line, and the notes of its cases that ran
 * (e.g. a shallower queue than usual). */
static void case_notes(FILE *f, const struct bench_results *rs, const struct transport *t,
		       unsigned ok, unsigned skip, const char *why)
{
	uint64_t v = 0, full = 0;
	for (size_t k = 0; k < rs->n; k++)
		if (rs->v[k].t == t) {
			v += rs->v[k].verified;
			full += rs->v[k].verified_full;
		}
	if (!ok)
		fprintf(f, "skipped: %s\n", why);
	else if (t->ref_client || t->ref_local)
		fprintf(f, "ok: %u case(s), reference (no messages to verify)\n", ok);
	else
		fprintf(f, "ok: %u case(s), %llu messages verified, %llu fully checksummed%s%s\n",
			ok, (unsigned long long)v, (unsigned long long)full,
			skip ? "; some sizes skipped: " : "", skip ? why : "");
	for (size_t k = 0; k < rs->n; k++) {
		const struct case_result *r = &rs->v[k];
		if (r->t == t && r->status == RES_OK && r->note[0])
			fprintf(f, "%28s%s, %u client(s): %s\n", "", size_str(r->size), r->nclients,
				r->note);
	}
}

void report_verification(FILE *f, const struct bench_results *rs)
{
	fprintf(f, "\n== Verification " RULE "\n");
	fprintf(f, "Every message: exact length, sequence number (loss, duplication, "
		   "reordering), first and last\n8 payload bytes, header check word; every "
		   "%uth message: a checksum of the whole payload.\n",
		   MSG_FULL_EVERY);
	/* One line per transport: all its cases together. */
	for (size_t i = 0; i < bench_ntransports; i++) {
		const struct transport *t = bench_transports[i];
		unsigned ok = 0, skip = 0, failed = 0;
		const char *why = NULL, *fail_why = NULL;
		for (size_t k = 0; k < rs->n; k++) {
			const struct case_result *r = &rs->v[k];
			if (r->t != t)
				continue;
			if (r->status == RES_OK)
				ok++;
			else if (r->status == RES_SKIP)
				skip++, why = r->note;
			else if (!fail_why)
				failed++, fail_why = r->note;
			else
				failed++;
		}
		if (!ok && !skip && !failed)
			continue;
		fprintf(f, "%-26s ", label(t));
		if (failed)
			fprintf(f, "FAILED (%u case(s)): %s\n", failed, fail_why);
		else
			case_notes(f, rs, t, ok, skip, why);
	}
}

/* ---- the targets ------------------------------------------------------ */

static const struct case_result *ok_case(const struct bench_results *rs, const char *name,
					 const char *mode, size_t size, unsigned n)
{
	const struct case_result *r = results_find(rs, name, mode, size, n);
	return r && r->status == RES_OK ? r : NULL;
}

static double bg_of(const struct case_result *r)
{
	return r ? r->other_pct + r->steal_pct : 0;
}

/* One target line; `bg` is the worst background load of the cases it
 * compares, so a verdict from a noisy case says so. */
static void target(FILE *f, int met, double bg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void target(FILE *f, int met, double bg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(f, "  [%s] ", met ? "met" : "NOT met");
	vfprintf(f, fmt, ap);
	if (bg > 5)
		fprintf(f, " (noisy: bg %.0f%%)", bg);
	fprintf(f, "\n");
	va_end(ap);
}

static double max2(double a, double b)
{
	return a > b ? a : b;
}

/* "a / b p50 at every size up to max": a target from one size can be one
 * noisy case. The references carry no payload: larger sizes say nothing. */
static void ratio_sizes(FILE *f, const struct bench_opts *o, const struct bench_results *rs,
			const char *an, const char *am, const char *bn, const char *bm, size_t max)
{
	int any = 0;
	for (unsigned k = 0; k < o->nsizes; k++) {
		if (o->sizes[k] > max)
			continue;
		const struct case_result *a = ok_case(rs, an, am, o->sizes[k], 1);
		const struct case_result *b = ok_case(rs, bn, bm, o->sizes[k], 1);
		if (!a || !b || !a->has_lat || !b->has_lat || !b->lat.p50)
			continue;
		fprintf(f, "%s %s %.2fx", any ? "," : "        (at each size:", size_str(o->sizes[k]),
			a->lat.p50 / b->lat.p50);
		any = 1;
	}
	if (any)
		fprintf(f, ")\n");
}

/* shmq's performance targets (issue 3), from this run's medians. */
void report_targets(FILE *f, const struct bench_opts *o, const struct bench_results *rs)
{
	const struct case_result *busy = ok_case(rs, "shmq", "busy", 64, 1);
	const struct case_result *cl = ok_case(rs, "ref-cacheline", "busy", 64, 1);
	const struct case_result *blk = ok_case(rs, "shmq", "block", 64, 1);
	const struct case_result *fx = ok_case(rs, "ref-futex", "block", 64, 1);
	const struct case_result *ad = ok_case(rs, "shmq", "adaptive", 64, 1);

	fprintf(f, "\n== shmq's targets (64 B unless said; medians of this run) " RULE "\n");
	if (busy && cl && busy->has_lat && cl->has_lat) {
		double x = busy->lat.p50 / cl->lat.p50;
		target(f, x <= 1.2 && busy->lat.p50 < 500, max2(bg_of(busy), bg_of(cl)),
		       "busy-poll round trip p50 %s us = %.2fx the cache-line ping-pong (%s us); "
		       "target <= 1.2x and < 0.5 us",
		       us(busy->lat.p50), x, us(cl->lat.p50));
		ratio_sizes(f, o, rs, "shmq", "busy", "ref-cacheline", "busy", 64);
		target(f, busy->lat.p99 < 1000, bg_of(busy), "busy-poll round trip p99 %s us; target < 1 us",
		       us(busy->lat.p99));
	}
	if (busy && busy->has_tput)
		target(f, busy->msgs_per_s >= 20e6, bg_of(busy),
		       "busy-poll throughput %s msgs/s; target >= 20 M msgs/s",
		       rate(busy->msgs_per_s));
	const struct case_result *b64k = ok_case(rs, "shmq", "busy", 65536, 1);
	const struct case_result *z64k = ok_case(rs, "shmq", "busy-zc", 65536, 1);
	const struct case_result *m64k = ok_case(rs, "ref-memcpy", "copy", 65536, 1);
	const struct case_result *s64k = ok_case(rs, "ref-spsc", "busy", 65536, 1);
	if (b64k && m64k && b64k->has_tput && m64k->has_tput) {
		double x = b64k->bytes_per_s / m64k->bytes_per_s;
		target(f, x >= 0.8, max2(bg_of(b64k), bg_of(m64k)),
		       "busy-poll throughput at 64 KiB %.0f MB/s = %.0f%% of one memcpy (%.0f MB/s)"
		       "%s%.0f%%; target >= 80%%",
		       b64k->bytes_per_s / 1e6, 100 * x, m64k->bytes_per_s / 1e6,
		       z64k && z64k->has_tput ? "; zero-copy " : "",
		       z64k && z64k->has_tput ? 100 * z64k->bytes_per_s / m64k->bytes_per_s : 0);
		if (s64k && s64k->has_tput)
			fprintf(f, "        (the bare SPSC ring between the two CPUs, ref-spsc, "
				   "reaches %.0f MB/s: shmq has %.0f%% of it)\n",
				s64k->bytes_per_s / 1e6, 100 * b64k->bytes_per_s / s64k->bytes_per_s);
	}
	if (blk && fx && blk->has_lat && fx->has_lat) {
		double x = blk->lat.p50 / fx->lat.p50;
		target(f, x <= 1.1, max2(bg_of(blk), bg_of(fx)),
		       "blocking round trip p50 %s us = %.2fx the futex ping-pong (%s us); "
		       "target <= 1.1x",
		       us(blk->lat.p50), x, us(fx->lat.p50));
		ratio_sizes(f, o, rs, "shmq", "block", "ref-futex", "block", 4096);
	}
	/* Idle CPU is measured once per transport, at the first size. */
	const struct case_result *ad_idle = ok_case(rs, "shmq", "adaptive", o->sizes[0], 1);
	const struct case_result *blk_idle = ok_case(rs, "shmq", "block", o->sizes[0], 1);
	if (ad && busy && ad->has_lat && busy->has_lat && ad_idle && ad_idle->has_idle)
		target(f, ad->lat.p50 <= 1.2 * busy->lat.p50 && ad_idle->idle_cpu_pct < 5,
		       max2(max2(bg_of(ad), bg_of(busy)), bg_of(ad_idle)),
		       "adaptive round trip p50 %s us (busy-poll %s us), idle CPU %.1f%% "
		       "(blocking %.1f%%); target: busy-poll latency, ~0%% CPU idle",
		       us(ad->lat.p50), us(busy->lat.p50), ad_idle->idle_cpu_pct,
		       blk_idle && blk_idle->has_idle ? blk_idle->idle_cpu_pct : 0);
	static const char *const modes[] = { "busy", "adaptive", "block" };
	for (unsigned i = 0; i < 3 && o->max_clients > 1; i++) {
		const struct case_result *one =
			ok_case(rs, "shmq", modes[i], o->multi_size, 1);
		const struct case_result *n =
			ok_case(rs, "shmq", modes[i], o->multi_size, o->max_clients);
		if (!one || !n || !one->has_tput || !n->has_tput)
			continue;
		double x = n->msgs_per_s / one->msgs_per_s;
		target(f, x >= 0.9 && n->fair_min >= 0.5 && n->fair_max <= 2.0,
		       max2(bg_of(one), bg_of(n)),
		       "%s, %u clients: %s msgs/s = %.0f%% of 1 client (%s/s), per-client "
		       "share %.2f..%.2f of the mean; target >= 90%%, within 0.5..2",
		       modes[i], n->nclients, rate(n->msgs_per_s), 100 * x,
		       rate(one->msgs_per_s), n->fair_min, n->fair_max);
	}
}

/* ---- JSON --------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int json_first;

static void json_rec(FILE *f, const struct case_result *r, const char *metric, double v,
		     const char *unit)
{
	if (!isfinite(v))
		return;
	fprintf(f, "%s\n    {\"transport\": ", json_first ? "" : ",");
	json_first = 0;
	json_str(f, r->t->name);
	fprintf(f, ", \"mode\": ");
	json_str(f, r->t->mode);
	fprintf(f, ", \"family\": ");
	json_str(f, r->t->family);
	fprintf(f, ", \"size\": %zu, \"clients\": %u, \"metric\": \"%s\", \"value\": %.6g, "
		   "\"unit\": \"%s\"}",
		r->size, r->nclients, metric, v, unit);
}

static void json_case(FILE *f, const struct case_result *r)
{
	if (r->has_lat) {
		json_rec(f, r, "rtt_min", r->lat.min, "ns");
		json_rec(f, r, "rtt_p50", r->lat.p50, "ns");
		json_rec(f, r, "rtt_p90", r->lat.p90, "ns");
		json_rec(f, r, "rtt_p99", r->lat.p99, "ns");
		json_rec(f, r, "rtt_p999", r->lat.p999, "ns");
		json_rec(f, r, "rtt_max", r->lat.max, "ns");
		json_rec(f, r, "rtt_samples", (double)r->lat.n, "count");
		json_rec(f, r, "round_trips_per_s", r->rt_per_s, "1/s");
		if (r->nclients > 1) {
			json_rec(f, r, "rt_fairness_min", r->fair_rt_min, "ratio");
			json_rec(f, r, "rt_fairness_max", r->fair_rt_max, "ratio");
		}
	}
	if (r->has_tput) {
		json_rec(f, r, "msgs_per_s", r->msgs_per_s, "1/s");
		json_rec(f, r, "bytes_per_s", r->bytes_per_s, "B/s");
		if (r->nclients > 1) {
			json_rec(f, r, "fairness_min", r->fair_min, "ratio");
			json_rec(f, r, "fairness_max", r->fair_max, "ratio");
		}
	}
	if (r->has_idle)
		json_rec(f, r, "idle_cpu", r->idle_cpu_pct, "%");
	json_rec(f, r, "cpu", r->cpu_pct, "%");
	json_rec(f, r, "background", r->other_pct, "%");
	json_rec(f, r, "steal", r->steal_pct, "%");
	if (!r->t->ref_client && !r->t->ref_local) {
		json_rec(f, r, "verified", (double)r->verified, "count");
		json_rec(f, r, "verified_full", (double)r->verified_full, "count");
	}
}

static void verdict_lines_json(FILE *f, const struct bench_opts *o,
			       const struct bench_results *rs)
{
	/* The verdict as text lines: render it to memory, split the lines. */
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m) {
		fprintf(f, "[]");
		return;
	}
	report_verdict(m, o, rs);
	fclose(m);
	fprintf(f, "[");
	int first = 1;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "== ", 3))
			continue;
		fprintf(f, "%s\n    ", first ? "" : ",");
		json_str(f, line);
		first = 0;
	}
	fprintf(f, "\n  ]");
	free(text);
}

void report_json(FILE *f, const struct bench_opts *o, const struct bench_results *rs)
{
	const struct machine_info *mi = &bench_machine;
	fprintf(f, "{\n  \"schema\": \"shmq-bench/1\",\n  \"shmq_version\": ");
	json_str(f, shmq_version());
	fprintf(f, ",\n  \"machine\": {\"cpu\": ");
	json_str(f, mi->cpu);
	fprintf(f, ", \"ncpu\": %u, \"kernel\": ", mi->ncpu);
	json_str(f, mi->kernel);
	fprintf(f, ", \"virt\": ");
	json_str(f, mi->virt);
	fprintf(f, ", \"timer_ns\": %.1f},\n", mi->timer_ns);
	fprintf(f, "  \"config\": {\"quick\": %s, \"phase_ms\": %.1f, \"idle_ms\": %.1f, "
		   "\"sizes\": [",
		o->quick ? "true" : "false", (double)o->phase_ns / 1e6, (double)o->idle_ns / 1e6);
	for (unsigned k = 0; k < o->nsizes; k++)
		fprintf(f, "%s%zu", k ? ", " : "", o->sizes[k]);
	fprintf(f, "], \"clients\": %u, \"multi_size\": %zu, \"cpus\": [%d, %d]},\n",
		o->max_clients, o->multi_size, o->cpu_a, o->cpu_b);
	fprintf(f, "  \"records\": [");
	json_first = 1;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->v[i].status == RES_OK)
			json_case(f, &rs->v[i]);
	fprintf(f, "\n  ],\n  \"cases\": [");
	for (size_t i = 0; i < rs->n; i++) {
		const struct case_result *r = &rs->v[i];
		fprintf(f, "%s\n    {\"transport\": ", i ? "," : "");
		json_str(f, r->t->name);
		fprintf(f, ", \"mode\": ");
		json_str(f, r->t->mode);
		fprintf(f, ", \"size\": %zu, \"clients\": %u, \"status\": \"%s\", \"note\": ",
			r->size, r->nclients,
			r->status == RES_OK ? "ok" : r->status == RES_SKIP ? "skipped" : "failed");
		json_str(f, r->note);
		fprintf(f, "}");
	}
	fprintf(f, "\n  ],\n  \"verdict\": ");
	verdict_lines_json(f, o, rs);
	fprintf(f, ",\n  \"ok\": %s\n}\n", rs->failures ? "false" : "true");
}

/* ---- CSV ------------------------------------------------------------------------ */

static void csv_num(FILE *f, int have, double v, const char *fmt)
{
	fputc(',', f);
	if (have && isfinite(v))
		fprintf(f, fmt, v);
}

void report_csv(FILE *f, const struct bench_results *rs)
{
	fprintf(f, "transport,mode,family,size,clients,status,rtt_min_ns,rtt_p50_ns,rtt_p90_ns,"
		   "rtt_p99_ns,rtt_p999_ns,rtt_max_ns,rtt_samples,round_trips_per_s,msgs_per_s,"
		   "mb_per_s,cpu_pct,background_pct,steal_pct,idle_cpu_pct,verified,"
		   "verified_full,fairness_min,fairness_max,note\n");
	for (size_t i = 0; i < rs->n; i++) {
		const struct case_result *r = &rs->v[i];
		int ok = r->status == RES_OK, l = ok && r->has_lat, t = ok && r->has_tput;
		fprintf(f, "%s,%s,%s,%zu,%u,%s", r->t->name, r->t->mode, r->t->family, r->size,
			r->nclients, ok ? "ok" : r->status == RES_SKIP ? "skipped" : "failed");
		csv_num(f, l, r->lat.min, "%.0f");
		csv_num(f, l, r->lat.p50, "%.0f");
		csv_num(f, l, r->lat.p90, "%.0f");
		csv_num(f, l, r->lat.p99, "%.0f");
		csv_num(f, l, r->lat.p999, "%.0f");
		csv_num(f, l, r->lat.max, "%.0f");
		csv_num(f, l, (double)r->lat.n, "%.0f");
		csv_num(f, l, r->rt_per_s, "%.0f");
		csv_num(f, t, r->msgs_per_s, "%.0f");
		csv_num(f, t, r->bytes_per_s / 1e6, "%.2f");
		csv_num(f, ok, r->cpu_pct, "%.1f");
		csv_num(f, ok, r->other_pct, "%.1f");
		csv_num(f, ok, r->steal_pct, "%.1f");
		csv_num(f, ok && r->has_idle, r->idle_cpu_pct, "%.1f");
		csv_num(f, ok, (double)r->verified, "%.0f");
		csv_num(f, ok, (double)r->verified_full, "%.0f");
		csv_num(f, t && r->nclients > 1, r->fair_min, "%.3f");
		csv_num(f, t && r->nclients > 1, r->fair_max, "%.3f");
		/* The note, quoted, quotes doubled. */
		fputs(",\"", f);
		for (const char *s = r->note; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s == '\n' ? ' ' : *s, f);
		}
		fputs("\"\n", f);
	}
}
