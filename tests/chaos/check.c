/* SPDX-License-Identifier: MIT */
/*
 * The checker: reads one phase's logs and verifies
 *   - every request a client saw acknowledged was processed exactly once by
 *     the servers, with the same checksum (no request processed twice, and
 *     each client incarnation's requests processed in the order sent);
 *   - a gap a client saw (a reply to a later request, none to an earlier one
 *     sent on the same connection) is explained by a reply the server failed
 *     to send; otherwise a request or a reply was lost;
 *   - no violation was logged in-process (corruption, misdelivery, unexpected
 *     errors, fd leaks, unexpected deaths, leftovers, strays);
 *   - a call during which its server died failed within CHAOS_DEAD_MS;
 *   - every blocking call returned within its timeout + CHAOS_SLACK_MS, not
 *     counting the time its process was stopped by the driver, nor the time
 *     the whole machine stalled (the driver's watchdog saw nothing run);
 *   - no client went more than STALL_MS without an acknowledgement;
 *   - no server's RSS grew by more than the slack after warm-up, nor its fds;
 *   - no System V segment of any server incarnation survived the phase.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chaos.h"

#define STALL_MS    10000 /* longest a client incarnation may go without an ack */
#define MAX_PRINTED 20	  /* violation lines printed per phase */

/* ---- reading logs -------------------------------------------------------- */

struct log {
	struct rec *r;
	size_t n;
};

static struct log read_log(const char *dir, const char *file)
{
	struct log l = {NULL, 0};
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return l;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		size_t size = (size_t)st.st_size;
		if (size % sizeof(struct rec))
			printf("chaos: note: %s ends with a torn record (%zu bytes)\n", path,
			       size % sizeof(struct rec));
		l.r = malloc(size);
		size_t got = 0;
		while (l.r && got < size) {
			ssize_t n = read(fd, (char *)l.r + got, size - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		l.n = l.r ? got / sizeof(struct rec) : 0;
	}
	close(fd);
	return l;
}

/* qsort, minding that an empty array may be NULL (qsort's is non-null). */
static void sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

/* ---- reporting ----------------------------------------------------------- */

struct ctx {
	const char *dir;
	struct check_stats *st;
	int print_driver;
	uint64_t printed;
	/* stops, from the driver's log, sorted by (pid, t0) */
	struct rec *stops;
	size_t nstops;
	/* machine stalls the watchdog saw, in time order */
	struct rec *stalls;
	size_t nstalls;
	/* when servers died (SIGKILL) or closed (SIGTERM), sorted */
	uint64_t *deaths;
	size_t ndeaths, deaths_cap;
};

static void fail(struct ctx *c, int print, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct ctx *c, int print, const char *fmt, ...)
{
	c->st->violations++;
	if (!print)
		return;
	if (c->printed++ >= MAX_PRINTED) {
		if (c->printed == MAX_PRINTED + 1)
			printf("chaos: VIOLATION: ... (more not printed; see the logs in %s)\n",
			       c->dir);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	printf("chaos: VIOLATION: ");
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static void report_viol(struct ctx *c, const char *src, const struct rec *r, int print)
{
	const char *kind = r->op < V_COUNT ? viol_names[r->op] : "?";
	fail(c, print, "%s: %s: cid %u inc %u pid %d seq %llu rc %d (%s) val 0x%llx", src, kind,
	     r->cid, r->inc, r->pid, (unsigned long long)r->seq, r->rc, err_name(r->rc),
	     (unsigned long long)r->val);
}

/* ---- stops and durations ------------------------------------------------- */

static int cmp_stop(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

struct span {
	uint64_t a, b;
};

static int cmp_span(const void *x, const void *y)
{
	const struct span *p = x, *q = y;
	return p->a < q->a ? -1 : p->a > q->a;
}

static void add_span(struct span *v, size_t *n, size_t cap, uint64_t a, uint64_t b, uint64_t t0,
		     uint64_t t1)
{
	if (a < t0)
		a = t0;
	if (b > t1)
		b = t1;
	if (b > a && *n < cap)
		v[(*n)++] = (struct span){a, b};
}

/* Time within [t0, t1] that pid could not run: stopped by the driver, or
 * the whole machine stalled. Overlaps are counted once. */
static uint64_t stopped_ns(const struct ctx *c, int32_t pid, uint64_t t0, uint64_t t1)
{
	struct span v[256];
	size_t n = 0, lo = 0, hi = c->nstops;
	while (lo < hi) { /* first stop of pid */
		size_t mid = (lo + hi) / 2;
		if (c->stops[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < c->nstops && c->stops[i].pid == pid; i++)
		add_span(v, &n, 256, c->stops[i].t0,
			 c->stops[i].t0 + (uint64_t)c->stops[i].dur_us * 1000, t0, t1);
	for (size_t i = 0; i < c->nstalls; i++)
		add_span(v, &n, 256, c->stalls[i].t0,
			 c->stalls[i].t0 + (uint64_t)c->stalls[i].dur_us * 1000, t0, t1);
	sort(v, n, sizeof(*v), cmp_span);
	uint64_t sum = 0, end = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = v[i].a > end ? v[i].a : end;
		if (v[i].b > a)
			sum += v[i].b - a;
		if (v[i].b > end)
			end = v[i].b;
	}
	return sum;
}

/* A timed call: did it return within its timeout plus the slack? */
static void check_duration(struct ctx *c, const char *src, const struct rec *r)
{
	if (r->timeout_ms == NO_TIMEOUT)
		return;
	uint64_t dur = (uint64_t)r->dur_us * 1000;
	if (dur > (uint64_t)r->timeout_ms * 1000000ull)
		dur -= stopped_ns(c, r->pid, r->t0, r->t0 + dur);
	if (dur / 1000 > c->st->max_call_us)
		c->st->max_call_us = dur / 1000;
	if (dur > ((uint64_t)r->timeout_ms + CHAOS_SLACK_MS) * 1000000ull)
		fail(c, 1, "%s: %s (pid %d) took %.0f ms not counting stops, timeout %u ms (rc %s)",
		     src, r->op < OP_COUNT ? op_names[r->op] : "?", r->pid, (double)dur / 1e6,
		     r->timeout_ms, err_name(r->rc));
}

static void add_death(struct ctx *c, uint64_t t)
{
	if (c->ndeaths == c->deaths_cap) {
		c->deaths_cap = c->deaths_cap ? 2 * c->deaths_cap : 64;
		c->deaths = realloc(c->deaths, c->deaths_cap * sizeof(*c->deaths));
		if (!c->deaths) {
			fprintf(stderr, "chaos: out of memory\n");
			exit(3);
		}
	}
	c->deaths[c->ndeaths++] = t;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A client call must fail within CHAOS_DEAD_MS of its server's death
 * (DESIGN.md §5), or of its own start if the server was dead already,
 * however long its timeout. Its server is the one it connected to at
 * `connected`: only one server lives at a time, and the next starts after
 * the last died, so the first death after `connected` is its server's. */
static void check_dead_server(struct ctx *c, const char *src, const struct rec *r,
			      uint64_t connected)
{
	if (r->timeout_ms == NO_TIMEOUT || r->op == OP_CONNECT || !connected)
		return;
	uint64_t t1 = r->t0 + (uint64_t)r->dur_us * 1000;
	size_t lo = 0, hi = c->ndeaths;
	while (lo < hi) { /* first death after the connection */
		size_t mid = (lo + hi) / 2;
		if (c->deaths[mid] <= connected)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == c->ndeaths || c->deaths[lo] > t1)
		return;
	uint64_t d = c->deaths[lo] > r->t0 ? c->deaths[lo] : r->t0;
	uint64_t wait = t1 - d - stopped_ns(c, r->pid, d, t1);
	if (wait / 1000 > c->st->max_dead_us)
		c->st->max_dead_us = wait / 1000;
	if (wait > CHAOS_DEAD_MS * 1000000ull)
		fail(c, 1, "%s: %s (pid %d) went on %.0f ms after its server died (rc %s)", src,
		     r->op < OP_COUNT ? op_names[r->op] : "?", r->pid, (double)wait / 1e6,
		     err_name(r->rc));
}

/* ---- requests ------------------------------------------------------------ */

/* A request's identity, (cid, client incarnation, seq), as one sortable key. */
static uint64_t req_key(uint32_t cid, uint32_t inc, uint64_t seq)
{
	return (uint64_t)cid << 56 | (uint64_t)(inc & 0xffffffu) << 32 | (seq & 0xffffffffu);
}

struct ent {
	uint64_t key;
	uint64_t sum;
	uint64_t order; /* position in the server's log */
	uint32_t srv_inc;
	uint32_t hits; /* acknowledgements matched to it */
};

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static struct ent *lookup(struct ent *v, size_t n, uint64_t key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].key == key ? &v[lo] : NULL;
}

struct server_view {
	struct ent *proc; /* processed requests */
	size_t nproc;
	struct ent *nosend; /* requests whose reply the server failed to send */
	size_t nnosend;
};

/* Processed exactly once, and per client incarnation in the order sent. */
static void check_processed(struct ctx *c, struct server_view *sv)
{
	sort(sv->proc, sv->nproc, sizeof(*sv->proc), cmp_ent);
	for (size_t i = 1; i < sv->nproc; i++) {
		struct ent *a = &sv->proc[i - 1], *b = &sv->proc[i];
		if (a->key == b->key)
			fail(c, 1,
			     "request cid %u inc %u seq %u processed twice (servers #%u, #%u)",
			     (unsigned)(b->key >> 56), (unsigned)(b->key >> 32) & 0xffffffu,
			     (unsigned)b->key, a->srv_inc, b->srv_inc);
		else if ((a->key >> 32) == (b->key >> 32) && a->order > b->order)
			fail(c, 1,
			     "requests of cid %u inc %u processed out of order (seq %u after %u)",
			     (unsigned)(b->key >> 56), (unsigned)(b->key >> 32) & 0xffffffu,
			     (unsigned)a->key, (unsigned)b->key);
	}
	sort(sv->nosend, sv->nnosend, sizeof(*sv->nosend), cmp_ent);
	c->st->processed = sv->nproc;
}

/* ---- clients ------------------------------------------------------------- */

static void check_ack(struct ctx *c, struct server_view *sv, const struct rec *r)
{
	struct ent *e = lookup(sv->proc, sv->nproc, req_key(r->cid, r->inc, r->seq));
	c->st->acked++;
	c->st->acked_late += r->flag;
	if (!e) {
		fail(c, 1, "client %u inc %u: seq %llu acknowledged but never processed", r->cid,
		     r->inc, (unsigned long long)r->seq);
		return;
	}
	if (e->sum != r->val)
		fail(c, 1,
		     "client %u inc %u: seq %llu acknowledged with checksum %016llx, "
		     "processed with %016llx",
		     r->cid, r->inc, (unsigned long long)r->seq, (unsigned long long)r->val,
		     (unsigned long long)e->sum);
	if (e->hits++)
		fail(c, 1, "client %u inc %u: seq %llu acknowledged twice", r->cid, r->inc,
		     (unsigned long long)r->seq);
}

/* A request got no reply though a later one did: if it was processed, the
 * server must have failed to send the reply; if it was surely sent (flag),
 * it must have been processed. Otherwise something was lost. */
static void check_gap(struct ctx *c, struct server_view *sv, const struct rec *r)
{
	uint64_t key = req_key(r->cid, r->inc, r->seq);
	if (!lookup(sv->proc, sv->nproc, key)) {
		if (r->flag)
			fail(c, 1,
			     "client %u inc %u: seq %llu sent, never processed, yet seq %llu "
			     "was answered on the same connection (request lost)",
			     r->cid, r->inc, (unsigned long long)r->seq,
			     (unsigned long long)r->val);
	} else if (!lookup(sv->nosend, sv->nnosend, key)) {
		fail(c, 1,
		     "client %u inc %u: seq %llu processed and replied to, but the reply "
		     "never came while seq %llu's did (reply lost)",
		     r->cid, r->inc, (unsigned long long)r->seq, (unsigned long long)r->val);
	}
}

struct client_state {
	uint32_t inc;
	uint64_t last_ack;
	uint64_t connected; /* start of the last successful connect */
};

static void client_rec(struct ctx *c, struct server_view *sv, struct client_state *cs,
		       const struct rec *r, const char *src)
{
	if (r->inc != cs->inc) {
		cs->inc = r->inc;
		cs->last_ack = 0;
		cs->connected = 0;
	}
	switch (r->type) {
	case R_ACK:
		check_ack(c, sv, r);
		check_duration(c, src, r);
		check_dead_server(c, src, r, cs->connected);
		if (cs->last_ack && r->t0 > cs->last_ack &&
		    r->t0 - cs->last_ack > c->st->max_ack_gap_us * 1000)
			c->st->max_ack_gap_us = (r->t0 - cs->last_ack) / 1000;
		cs->last_ack = r->t0;
		break;
	case R_CALL:
		check_duration(c, src, r);
		check_dead_server(c, src, r, cs->connected);
		if (r->op == OP_CONNECT) {
			c->st->connect_fail++;
			c->st->connect_eproto += r->rc == -EPROTO;
			c->st->connect_eusers += r->rc == -EUSERS;
		} else {
			c->st->timeouts += r->rc == -ETIMEDOUT;
			c->st->epipe += r->rc == -EPIPE;
		}
		if (r->op < OP_COUNT)
			c->st->call_errors[r->op]++;
		break;
	case R_CONNECT:
		c->st->connects++;
		cs->connected = r->t0;
		check_duration(c, src, r);
		break;
	case R_GAP:
		check_gap(c, sv, r);
		break;
	case R_VIOL:
		report_viol(c, src, r, 1);
		break;
	default:
		break;
	}
}

static void read_clients(struct ctx *c, struct server_view *sv, int nclients)
{
	for (int i = 0; i < nclients; i++) {
		char file[32];
		snprintf(file, sizeof(file), "client-%d.log", i);
		struct log l = read_log(c->dir, file);
		struct client_state cs = {0, 0, 0};
		for (size_t k = 0; k < l.n; k++)
			client_rec(c, sv, &cs, &l.r[k], file);
		free(l.r);
	}
	if (c->st->max_ack_gap_us > STALL_MS * 1000ull)
		fail(c, 1, "a client went %.1f s without an acknowledgement",
		     (double)c->st->max_ack_gap_us / 1e6);
	for (size_t i = 0; i < sv->nproc; i++)
		c->st->unacked_processed += sv->proc[i].hits == 0;
}

/* ---- servers ------------------------------------------------------------- */

struct rss_track {
	uint32_t inc;
	int samples;
	long base_kb, first_kb, last_kb;
	long fds0;
	int fd_reported;
};

static void rss_done(struct ctx *c, const struct rss_track *t, long slack_kb, int *longest)
{
	if (t->samples <= CHAOS_RSS_WARMUP + 1)
		return;
	long growth = t->last_kb - t->base_kb;
	if (growth > c->st->rss_growth_kb)
		c->st->rss_growth_kb = growth;
	if (t->samples > *longest) {
		*longest = t->samples;
		c->st->rss_first_kb = t->base_kb;
		c->st->rss_last_kb = t->last_kb;
	}
	if (growth > slack_kb)
		fail(c, 1, "server #%u: RSS grew from %ld kB to %ld kB in %d s", t->inc, t->base_kb,
		     t->last_kb, t->samples - CHAOS_RSS_WARMUP);
}

static void rss_sample(struct ctx *c, struct rss_track *t, const struct rec *r)
{
	long kb = (long)r->val, fds = (long)r->seq;
	if (t->samples == 0) {
		t->fds0 = fds;
		t->first_kb = kb;
	}
	if (t->samples == CHAOS_RSS_WARMUP)
		t->base_kb = kb;
	t->last_kb = kb;
	t->samples++;
	if (fds != t->fds0 && !t->fd_reported) {
		t->fd_reported = 1;
		fail(c, 1, "server #%u: open fds went from %ld to %ld", t->inc, t->fds0, fds);
	}
}

/* No System V segment of any incarnation may outlive the phase. */
static void check_segment_gone(struct ctx *c, const struct rec *r)
{
	int id = (int)(int64_t)r->val;
	struct shmid_ds ds;
	if (id < 0 || shmctl(id, IPC_STAT, &ds) < 0)
		return;
	if (ds.shm_cpid != r->pid)
		return; /* the id was reused by someone else's segment */
	fail(c, 1, "server #%u: its System V segment (id %d, %lu attached) still exists", r->inc,
	     id, (unsigned long)ds.shm_nattch);
	shmctl(id, IPC_RMID, NULL); /* reported; don't leave it behind */
}

static void push_ent(struct ent **v, size_t *n, size_t *cap, struct ent e)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v) {
			fprintf(stderr, "chaos: out of memory\n");
			exit(3);
		}
	}
	(*v)[(*n)++] = e;
}

static void read_server(struct ctx *c, struct server_view *sv, long rss_slack_kb)
{
	struct log l = read_log(c->dir, "server.log");
	size_t cap = 0, cap2 = 0;
	struct rss_track t = {0};
	int longest = 0;
	unsigned create_failures = 0;
	for (size_t k = 0; k < l.n; k++) {
		const struct rec *r = &l.r[k];
		if (r->type == R_RSS || r->type == R_START) {
			if (r->inc != t.inc) {
				rss_done(c, &t, rss_slack_kb, &longest);
				t = (struct rss_track){.inc = r->inc};
			}
		}
		switch (r->type) {
		case R_PROC:
			push_ent(&sv->proc, &sv->nproc, &cap,
				 (struct ent){req_key(r->cid, (uint32_t)r->rc, r->seq), r->val, k,
					      r->inc, 0});
			break;
		case R_CALL:
			check_duration(c, "server.log", r);
			if (r->op == OP_SRV_SEND && r->rc < 0)
				push_ent(&sv->nosend, &sv->nnosend, &cap2,
					 (struct ent){req_key(r->cid, (uint32_t)r->val, r->seq), 0,
						      k, r->inc, 0});
			if (r->op == OP_CREATE && !create_failures++)
				printf("chaos: server #%u could not create its endpoint: %s\n",
				       r->inc, shmq_strerror(r->rc));
			break;
		case R_START:
			c->st->server_starts++;
			check_segment_gone(c, r);
			break;
		case R_RSS:
			rss_sample(c, &t, r);
			break;
		case R_VIOL:
			report_viol(c, "server.log", r, 1);
			break;
		case R_EXIT:
			add_death(c, r->t0); /* it closes the endpoint now */
			break;
		default:
			break;
		}
	}
	rss_done(c, &t, rss_slack_kb, &longest);
	if (create_failures > 1)
		printf("chaos: ... and %u more servers could not create it\n", create_failures - 1);
	free(l.r);
	check_processed(c, sv);
}

/* ---- the driver's log ---------------------------------------------------- */

static void read_driver(struct ctx *c)
{
	struct log l = read_log(c->dir, "driver.log");
	size_t n = 0, ns = 0;
	c->stalls = calloc(l.n + 1, sizeof(*c->stalls));
	if (!c->stalls) {
		fprintf(stderr, "chaos: out of memory\n");
		exit(3);
	}
	for (size_t k = 0; k < l.n; k++) {
		const struct rec *r = &l.r[k];
		if (r->type == R_STOP) {
			l.r[n++] = *r;
		} else if (r->type == R_STALL) {
			c->stalls[ns++] = *r;
			c->st->stalls++;
			if (r->dur_us > c->st->max_stall_us)
				c->st->max_stall_us = r->dur_us;
		} else if (r->type == R_VIOL) {
			report_viol(c, "driver.log", r, c->print_driver);
		} else if (r->type == R_KILL && r->seq == ROLE_SERVER && r->rc == SIGKILL) {
			add_death(c, r->t0);
		}
	}
	sort(l.r, n, sizeof(*l.r), cmp_stop);
	c->stops = l.r;
	c->nstops = n;
	c->nstalls = ns;
}

uint64_t check_dir(const char *dir, int nclients, long rss_slack_kb, int print_driver,
		   struct check_stats *st)
{
	memset(st, 0, sizeof(*st));
	struct ctx c = {.dir = dir, .st = st, .print_driver = print_driver};
	struct server_view sv = {0};
	read_driver(&c);
	read_server(&c, &sv, rss_slack_kb);
	sort(c.deaths, c.ndeaths, sizeof(*c.deaths), cmp_u64);
	read_clients(&c, &sv, nclients);
	free(sv.proc);
	free(sv.nosend);
	free(c.stops);
	free(c.stalls);
	free(c.deaths);
	return st->violations;
}

int check_main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: chaos check DIR [--clients N] [--rss-slack-kb N]\n");
		return 2;
	}
	long long nclients = 8, slack = 1024;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--clients"))
			parse_num(argv[i + 1], &nclients);
		else if (!strcmp(argv[i], "--rss-slack-kb"))
			parse_num(argv[i + 1], &slack);
	}
	struct check_stats st;
	check_dir(argv[1], (int)nclients, (long)slack, 1, &st);
	printf("chaos check %s: %llu acknowledged (%llu late), %llu processed, %llu processed "
	       "but not acknowledged, longest call %.0f ms, violations %llu\n",
	       argv[1], (unsigned long long)st.acked, (unsigned long long)st.acked_late,
	       (unsigned long long)st.processed, (unsigned long long)st.unacked_processed,
	       (double)st.max_call_us / 1000.0, (unsigned long long)st.violations);
	return st.violations ? 1 : 0;
}
