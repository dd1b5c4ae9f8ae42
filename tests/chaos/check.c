/* SPDX-License-Identifier: MIT */
/*
 * The checker: reads one phase's logs and verifies
 *   - every request or message a client saw answered was processed exactly
 *     once by the servers, with the same checksum and id (no request
 *     processed twice, and each client incarnation's requests processed in
 *     the order sent), and the server did send that answer;
 *   - every reply answers the request it was returned for: the client
 *     checks the payload in-process; here, the checksum the reply names must
 *     be the one the server processed under that sequence number;
 *   - no reply was lost: when a client received the reply to Y, every reply
 *     the server had sent it before Y's (same ring, so read first) to a
 *     request it had abandoned by then must have been discarded and counted
 *     in the library's late_replies;
 *   - a call that said nothing was sent (-ETIMEDOUT, -EAGAIN, a failed send)
 *     sent nothing: the server never processed it;
 *   - every message a flush said the server took is in the server's log,
 *     exactly once; the one exception is the message a server was killed
 *     between receiving and logging (copying receive): at most one per
 *     SIGKILLed server, the last it took from that connection;
 *   - after a graceful stop, a flush that failed with -EPIPE had something
 *     committed after the shutdown began (all before must have been taken);
 *   - a push gap a client saw (the push to a later message came, none to an
 *     earlier one) is explained by a push the server failed to send;
 *   - no violation was logged in-process (corruption, misdelivery, unexpected
 *     errors, fd leaks, unexpected deaths, leftovers, strays);
 *   - a call during which its server died failed within CHAOS_DEAD_MS;
 *   - every blocking call returned within its timeout + CHAOS_SLACK_MS, not
 *     counting the time its process was stopped by the driver, nor the time
 *     the whole machine stalled (the driver's watchdog saw nothing run);
 *   - no client went more than STALL_MS without an acknowledgement or flush;
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

/* How a server incarnation ended. */
struct death {
	uint64_t t;	   /* SIGKILLed, or done draining (R_EXIT) */
	uint64_t shutdown; /* graceful: when it called shmq_server_shutdown (0: unknown) */
	uint32_t inc;
	int graceful;
	int32_t pid;
};

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
	struct death *deaths;
	size_t ndeaths, deaths_cap;
	/* per server incarnation: when it began its shutdown, and flushed
	 * messages it may have lost by being killed */
	uint64_t *shutdown_at;
	uint32_t *killed_losses;
	uint32_t max_inc;
	/* per server incarnation: time of its last log record */
	uint64_t *last_rec;
	size_t nlast;
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

static void add_death(struct ctx *c, uint64_t t, uint32_t inc, int graceful, int32_t pid)
{
	if (c->ndeaths == c->deaths_cap) {
		c->deaths_cap = c->deaths_cap ? 2 * c->deaths_cap : 64;
		c->deaths = realloc(c->deaths, c->deaths_cap * sizeof(*c->deaths));
		if (!c->deaths) {
			fprintf(stderr, "chaos: out of memory\n");
			exit(3);
		}
	}
	c->deaths[c->ndeaths++] = (struct death){t, 0, inc, graceful, pid};
}

static int cmp_death(const void *a, const void *b)
{
	const struct death *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* The server a client that connected at `connected` was connected to: only
 * one server lives at a time, and the next starts after the last died, so it
 * is the first to die after `connected`. NULL: it outlived the logs. */
static const struct death *server_of(const struct ctx *c, uint64_t connected)
{
	size_t lo = 0, hi = c->ndeaths;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c->deaths[mid].t <= connected)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->ndeaths ? &c->deaths[lo] : NULL;
}

/* A client call must fail within CHAOS_DEAD_MS of its server's death
 * (DESIGN.md §5), or of its own start if the server was dead already,
 * however long its timeout. */
static void check_dead_server(struct ctx *c, const char *src, const struct rec *r,
			      uint64_t connected)
{
	if (r->timeout_ms == NO_TIMEOUT || r->op == OP_CONNECT || !connected)
		return;
	uint64_t t1 = r->t0 + (uint64_t)r->dur_us * 1000;
	const struct death *d = server_of(c, connected);
	if (!d || d->t > t1)
		return;
	uint64_t from = d->t > r->t0 ? d->t : r->t0;
	uint64_t wait = t1 - from - stopped_ns(c, r->pid, from, t1);
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

#define NO_REPLY UINT64_MAX

struct ent {
	uint64_t key;
	uint64_t sum;
	uint64_t order;	 /* position in the server's log */
	uint64_t rorder; /* position of its reply there (R_PROC, or R_REPLY when held
			  * back); NO_REPLY: none was sent (one-way, or it failed) */
	uint64_t id;
	uint32_t conn;
	uint32_t srv_inc;
	uint32_t hits; /* acknowledgements matched to it */
	uint8_t flag;  /* PROC_* */
	uint8_t flushed;
};

static int cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The first entry with key >= key: its index. */
static size_t lower_bound(const struct ent *v, size_t n, uint64_t key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct ent *lookup(struct ent *v, size_t n, uint64_t key)
{
	size_t lo = lower_bound(v, n, key);
	return lo < n && v[lo].key == key ? &v[lo] : NULL;
}

struct server_view {
	struct ent *proc; /* processed requests and messages */
	size_t nproc;
	struct ent *nopush; /* one-way messages whose push the server failed to send */
	size_t nnopush;
	struct ent *later; /* R_REPLY: held-back requests answered, and where */
	size_t nlater;
	struct ent *noreply; /* replies that failed */
	size_t nnoreply;
};

/* Processed exactly once, and per client incarnation in the order sent.
 * Then each request's reply gets its place in the log. */
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
		else if ((a->key >> 32) == (b->key >> 32) && a->conn == b->conn &&
			 a->order > b->order)
			/* One connection's ring is FIFO. (A client that reconnects
			 * may see its old slot drained after the new one is.) */
			fail(c, 1,
			     "requests of cid %u inc %u conn %u processed out of order (seq %u "
			     "after %u)",
			     (unsigned)(b->key >> 56), (unsigned)(b->key >> 32) & 0xffffffu, b->conn,
			     (unsigned)a->key, (unsigned)b->key);
	}
	for (size_t i = 0; i < sv->nlater; i++) {
		struct ent *e = lookup(sv->proc, sv->nproc, sv->later[i].key);
		if (e && (e->flag & PROC_DEFERRED))
			e->rorder = sv->later[i].order;
	}
	for (size_t i = 0; i < sv->nnoreply; i++) {
		struct ent *e = lookup(sv->proc, sv->nproc, sv->noreply[i].key);
		if (e)
			e->rorder = NO_REPLY;
	}
	sort(sv->nopush, sv->nnopush, sizeof(*sv->nopush), cmp_ent);
	c->st->processed = sv->nproc;
}

/* ---- clients ------------------------------------------------------------- */

/* What the checker follows of one client connection. */
struct client_state {
	uint32_t inc;
	uint32_t conn;
	uint64_t last_ack;
	uint64_t connected; /* start of the last successful connect */
	uint64_t abandoned; /* requests abandoned on this connection */
	uint64_t late;	    /* the library's late_replies, as last logged */
	int lost_reported;
	/* where the server's replies to abandoned requests are in its log */
	uint64_t *ab_rorder;
	size_t nab, ab_cap;
};

static void conn_reset(struct ctx *c, struct client_state *cs)
{
	c->st->late_replies += cs->late;
	cs->conn = 0;
	cs->connected = 0;
	cs->abandoned = 0;
	cs->late = 0;
	cs->nab = 0;
	cs->lost_reported = 0;
}

static const char *ackname(const struct rec *r)
{
	return r->flag & ACK_PUSH ? "push to seq" : "seq";
}

static void check_ack(struct ctx *c, struct server_view *sv, struct client_state *cs,
		      const struct rec *r)
{
	struct ent *e = lookup(sv->proc, sv->nproc, req_key(r->cid, r->inc, r->seq));
	c->st->acked++;
	c->st->acked_late += (r->flag & ACK_LATE) != 0;
	c->st->pushes += (r->flag & ACK_PUSH) != 0;
	c->st->ooo_client += (r->flag & ACK_OOO) != 0;
	if (r->aux < cs->late)
		fail(c, 1, "client %u inc %u conn %u: late_replies went down from %llu to %u", r->cid,
		     r->inc, r->conn, (unsigned long long)cs->late, r->aux);
	cs->late = r->aux;
	if (!e) {
		fail(c, 1, "client %u inc %u: %s %llu acknowledged but never processed", r->cid,
		     r->inc, ackname(r), (unsigned long long)r->seq);
		return;
	}
	if (e->sum != r->val)
		fail(c, 1,
		     "client %u inc %u: %s %llu acknowledged with the reply to another request "
		     "(it names checksum %016llx, seq %llu was processed with %016llx)",
		     r->cid, r->inc, ackname(r), (unsigned long long)r->seq,
		     (unsigned long long)r->val, (unsigned long long)r->seq,
		     (unsigned long long)e->sum);
	if (r->id && e->id != r->id)
		fail(c, 1,
		     "client %u inc %u: seq %llu acknowledged as the reply to id %llu, but was "
		     "received as id %llu (reply delivered to the wrong request)",
		     r->cid, r->inc, (unsigned long long)r->seq, (unsigned long long)r->id,
		     (unsigned long long)e->id);
	if (e->conn != r->conn)
		fail(c, 1, "client %u inc %u: seq %llu sent on connection %u, answered on %u",
		     r->cid, r->inc, (unsigned long long)r->seq, e->conn, r->conn);
	if (e->hits++)
		fail(c, 1, "client %u inc %u: %s %llu acknowledged twice", r->cid, r->inc,
		     ackname(r), (unsigned long long)r->seq);
	if (r->flag & ACK_PUSH)
		return;
	if (e->rorder == NO_REPLY) {
		fail(c, 1,
		     "client %u inc %u: seq %llu acknowledged, but the server's reply to it "
		     "failed or was never sent",
		     r->cid, r->inc, (unsigned long long)r->seq);
		return;
	}
	/* The replies the server sent this connection before this one were
	 * read before it: those to requests abandoned by now must have been
	 * discarded, and counted. */
	uint64_t need = 0;
	for (size_t i = 0; i < cs->nab; i++)
		need += cs->ab_rorder[i] < e->rorder;
	if (r->aux < need && !cs->lost_reported++)
		fail(c, 1,
		     "client %u inc %u conn %u: reply lost: the server answered %llu requests the "
		     "client had abandoned before it answered seq %llu, yet when that reply came "
		     "the library had discarded only %u late replies",
		     r->cid, r->inc, r->conn, (unsigned long long)need, (unsigned long long)r->seq,
		     r->aux);
}

static void check_abandon(struct ctx *c, struct server_view *sv, struct client_state *cs,
			  const struct rec *r)
{
	c->st->abandoned++;
	cs->abandoned++;
	if (r->aux > cs->late)
		cs->late = r->aux;
	struct ent *e = lookup(sv->proc, sv->nproc, req_key(r->cid, r->inc, r->seq));
	if (!e || e->rorder == NO_REPLY)
		return;
	if (e->hits)
		fail(c, 1, "client %u inc %u: seq %llu abandoned after it was acknowledged", r->cid,
		     r->inc, (unsigned long long)r->seq);
	if (cs->nab == cs->ab_cap) {
		cs->ab_cap = cs->ab_cap ? 2 * cs->ab_cap : 64;
		cs->ab_rorder = realloc(cs->ab_rorder, cs->ab_cap * sizeof(*cs->ab_rorder));
		if (!cs->ab_rorder) {
			fprintf(stderr, "chaos: out of memory\n");
			exit(3);
		}
	}
	cs->ab_rorder[cs->nab++] = e->rorder;
}

/* A push gap: the push to a later message came, none to this earlier one
 * (flag: surely sent). If it was processed, the server must have failed to
 * send the push; if it was sent, it must have been processed. */
static void check_gap(struct ctx *c, struct server_view *sv, const struct rec *r)
{
	uint64_t key = req_key(r->cid, r->inc, r->seq);
	if (!lookup(sv->proc, sv->nproc, key)) {
		if (r->flag)
			fail(c, 1,
			     "client %u inc %u: seq %llu sent, never processed, yet seq %llu "
			     "was answered on the same connection (message lost)",
			     r->cid, r->inc, (unsigned long long)r->seq,
			     (unsigned long long)r->val);
	} else if (!lookup(sv->nopush, sv->nnopush, key)) {
		fail(c, 1,
		     "client %u inc %u: seq %llu processed and answered, but the push "
		     "never came while seq %llu's did (reply lost)",
		     r->cid, r->inc, (unsigned long long)r->seq, (unsigned long long)r->val);
	}
}

/* Messages seq first..last of this connection, which a flush said the
 * server took: each must be in its log, from this connection. */
static void check_flush(struct ctx *c, struct server_view *sv, struct client_state *cs,
			const struct rec *r)
{
	for (uint64_t seq = r->seq; seq <= r->val && seq - r->seq < 100000; seq++) {
		uint64_t key = req_key(r->cid, r->inc, seq);
		c->st->flushed++;
		size_t at = lower_bound(sv->proc, sv->nproc, key);
		struct ent *e = at < sv->nproc && sv->proc[at].key == key ? &sv->proc[at] : NULL;
		if (e) {
			if (e->conn != r->conn)
				fail(c, 1,
				     "client %u inc %u: seq %llu flushed on connection %u, "
				     "processed from %u",
				     r->cid, r->inc, (unsigned long long)seq, r->conn, e->conn);
			if (e->flushed++)
				fail(c, 1, "client %u inc %u: seq %llu flushed twice", r->cid,
				     r->inc, (unsigned long long)seq);
			continue;
		}
		/* Not in the log. Excused only if its server was SIGKILLed
		 * between receiving it (a copying receive hands it over and
		 * releases it in one call) and logging it: then it was the
		 * last that server took from this connection, and the only
		 * message that server lost so (it serves one at a time). The
		 * note says how long before the kill the server last logged:
		 * microseconds, when it is that window. */
		const struct death *d = server_of(c, cs->connected);
		int later = at < sv->nproc && (sv->proc[at].key >> 32) == (key >> 32) &&
			    sv->proc[at].conn == r->conn;
		uint64_t last = d && d->inc < c->nlast ? c->last_rec[d->inc] : 0;
		if (d && !d->graceful && d->inc <= c->max_inc && !later &&
		    c->killed_losses[d->inc]++ == 0) {
			c->st->flushed_killed++;
			printf("chaos: note: client %u inc %u conn %u: seq %llu flushed (flush "
			       "returned %.3f ms before the kill), not logged by server #%u, "
			       "SIGKILLed %.3f ms after its last record: excused once\n",
			       r->cid, r->inc, r->conn, (unsigned long long)seq,
			       d->t > r->t0 + (uint64_t)r->dur_us * 1000
				   ? (double)(d->t - r->t0 - (uint64_t)r->dur_us * 1000) / 1e6
				   : -1.0,
			       d->inc, last && d->t > last ? (double)(d->t - last) / 1e6 : -1.0);
			continue;
		}
		fail(c, 1,
		     "client %u inc %u conn %u: seq %llu flushed but never processed (server #%u, "
		     "%s)",
		     r->cid, r->inc, r->conn, (unsigned long long)seq, d ? d->inc : 0,
		     !d ? "still running" : d->graceful ? "stopped gracefully" : "SIGKILLed");
	}
}

/* A failed call that says nothing was sent: the server never saw it. */
static void check_unsent(struct ctx *c, struct server_view *sv, const struct rec *r)
{
	if (r->flag != CALL_UNSENT || !r->seq || r->op == OP_CONNECT || r->op == OP_FLUSH)
		return;
	c->st->unsent_checked++;
	struct ent *e = lookup(sv->proc, sv->nproc, req_key(r->cid, r->inc, r->seq));
	if (e)
		fail(c, 1,
		     "client %u inc %u: seq %llu: %s failed with %s, which says nothing was sent, "
		     "yet it was processed (server #%u)",
		     r->cid, r->inc, (unsigned long long)r->seq,
		     r->op < OP_COUNT ? op_names[r->op] : "?", err_name(r->rc), e->srv_inc);
}

/* A flush that failed with -EPIPE: if its server stopped gracefully, every
 * message committed before the shutdown was taken, so something must have
 * been committed after it. */
static void check_flush_fail(struct ctx *c, struct client_state *cs, const struct rec *r)
{
	if (r->rc != -EPIPE)
		return;
	c->st->flush_epipe++;
	const struct death *d = server_of(c, cs->connected);
	if (!d || !d->graceful || !d->shutdown)
		return;
	c->st->flush_epipe_graceful++;
	/* val: when the connection's last commit returned (after a fence);
	 * the margin covers the clocks of two CPUs. */
	if (r->val && r->val + 100000 < d->shutdown)
		fail(c, 1,
		     "client %u inc %u conn %u: flush failed with EPIPE, though all it covered "
		     "(%u messages) was committed %.3f ms before the graceful shutdown of server "
		     "#%u began",
		     r->cid, r->inc, r->conn, r->aux, (double)(d->shutdown - r->val) / 1e6, d->inc);
}

static void client_rec(struct ctx *c, struct server_view *sv, struct client_state *cs,
		       const struct rec *r, const char *src)
{
	if (r->inc != cs->inc) {
		conn_reset(c, cs);
		cs->inc = r->inc;
		cs->last_ack = 0;
	}
	switch (r->type) {
	case R_ACK:
		check_ack(c, sv, cs, r);
		check_duration(c, src, r);
		check_dead_server(c, src, r, cs->connected);
		if (cs->last_ack && r->t0 > cs->last_ack &&
		    r->t0 - cs->last_ack > c->st->max_ack_gap_us * 1000)
			c->st->max_ack_gap_us = (r->t0 - cs->last_ack) / 1000;
		cs->last_ack = r->t0;
		break;
	case R_FLUSH:
		check_flush(c, sv, cs, r);
		check_duration(c, src, r);
		check_dead_server(c, src, r, cs->connected);
		cs->last_ack = r->t0;
		break;
	case R_ABANDON:
		check_abandon(c, sv, cs, r);
		break;
	case R_CALL:
		check_duration(c, src, r);
		check_dead_server(c, src, r, cs->connected);
		check_unsent(c, sv, r);
		if (r->op == OP_FLUSH)
			check_flush_fail(c, cs, r);
		if (r->op == OP_CONNECT) {
			c->st->connect_fail++;
			c->st->connect_eproto += r->rc == -EPROTO;
			c->st->connect_eusers += r->rc == -EUSERS;
		} else {
			c->st->timeouts += r->rc == -ETIMEDOUT || r->rc == -EINPROGRESS;
			c->st->epipe += r->rc == -EPIPE;
		}
		if (r->op < OP_COUNT)
			c->st->call_errors[r->op]++;
		break;
	case R_CONNECT:
		conn_reset(c, cs);
		c->st->connects++;
		cs->connected = r->t0;
		cs->conn = r->conn;
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
		struct client_state cs = {0};
		for (size_t k = 0; k < l.n; k++)
			client_rec(c, sv, &cs, &l.r[k], file);
		conn_reset(c, &cs);
		free(cs.ab_rorder);
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

static void note_inc(struct ctx *c, uint32_t inc)
{
	if (inc <= c->max_inc)
		return;
	uint32_t n = inc + 64;
	c->shutdown_at = realloc(c->shutdown_at, (n + 1) * sizeof(*c->shutdown_at));
	c->killed_losses = realloc(c->killed_losses, (n + 1) * sizeof(*c->killed_losses));
	if (!c->shutdown_at || !c->killed_losses) {
		fprintf(stderr, "chaos: out of memory\n");
		exit(3);
	}
	for (uint32_t i = c->max_inc ? c->max_inc + 1 : 0; i <= n; i++) {
		c->shutdown_at[i] = 0;
		c->killed_losses[i] = 0;
	}
	c->max_inc = n;
}

static void read_server(struct ctx *c, struct server_view *sv, long rss_slack_kb)
{
	struct log l = read_log(c->dir, "server.log");
	size_t cap = 0, cap2 = 0, cap3 = 0, cap4 = 0;
	struct rss_track t = {0};
	int longest = 0;
	unsigned create_failures = 0;
	for (size_t k = 0; k < l.n; k++) {
		const struct rec *r = &l.r[k];
		note_inc(c, r->inc);
		if (r->inc >= c->nlast) {
			size_t n = r->inc + 64;
			c->last_rec = realloc(c->last_rec, n * sizeof(*c->last_rec));
			if (!c->last_rec) {
				fprintf(stderr, "chaos: out of memory\n");
				exit(3);
			}
			memset(c->last_rec + c->nlast, 0, (n - c->nlast) * sizeof(*c->last_rec));
			c->nlast = n;
		}
		if (r->t0 > c->last_rec[r->inc])
			c->last_rec[r->inc] = r->t0;
		if (r->type == R_RSS || r->type == R_START) {
			if (r->inc != t.inc) {
				rss_done(c, &t, rss_slack_kb, &longest);
				t = (struct rss_track){.inc = r->inc};
			}
		}
		uint64_t key = req_key(r->cid, (uint32_t)r->rc, r->seq);
		switch (r->type) {
		case R_PROC: {
			int now = (r->flag & PROC_REQUEST) && !(r->flag & PROC_DEFERRED);
			push_ent(&sv->proc, &sv->nproc, &cap,
				 (struct ent){.key = key,
					      .sum = r->val,
					      .order = k,
					      .rorder = now ? k : NO_REPLY,
					      .id = r->id,
					      .conn = r->conn,
					      .srv_inc = r->inc,
					      .flag = r->flag});
			c->st->pipelined += r->op == OP_PIPELINE;
			break;
		}
		case R_REPLY:
			push_ent(&sv->later, &sv->nlater, &cap3,
				 (struct ent){.key = key, .order = k, .srv_inc = r->inc});
			c->st->deferred++;
			break;
		case R_CALL:
			check_duration(c, "server.log", r);
			key = req_key(r->cid, (uint32_t)r->val, r->seq);
			if (r->op == OP_SRV_PUSH && r->rc < 0)
				push_ent(&sv->nopush, &sv->nnopush, &cap2,
					 (struct ent){.key = key, .order = k, .srv_inc = r->inc});
			if (r->op == OP_SRV_SEND && r->rc < 0)
				push_ent(&sv->noreply, &sv->nnoreply, &cap4,
					 (struct ent){.key = key, .order = k, .srv_inc = r->inc});
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
		case R_SHUTDOWN:
			c->st->shutdowns++;
			c->shutdown_at[r->inc] = r->t0;
			break;
		case R_EXIT:
			c->st->drained += r->aux;
			add_death(c, r->t0, r->inc, 1, r->pid); /* it closes the endpoint now */
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
			add_death(c, r->t0, r->inc, 0, r->pid);
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
	sort(c.deaths, c.ndeaths, sizeof(*c.deaths), cmp_death);
	for (size_t i = 0; i < c.ndeaths; i++)
		if (c.deaths[i].graceful && c.deaths[i].inc <= c.max_inc)
			c.deaths[i].shutdown = c.shutdown_at[c.deaths[i].inc];
	read_clients(&c, &sv, nclients);
	free(sv.proc);
	free(sv.nopush);
	free(sv.later);
	free(sv.noreply);
	free(c.shutdown_at);
	free(c.killed_losses);
	free(c.last_rec);
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
	printf("chaos check %s: %llu acknowledged (%llu pushes), %llu processed (%llu "
	       "pipelined), %llu abandoned, %llu flushed checked, longest call %.0f ms, "
	       "violations %llu\n",
	       argv[1], (unsigned long long)st.acked, (unsigned long long)st.pushes,
	       (unsigned long long)st.processed, (unsigned long long)st.pipelined,
	       (unsigned long long)st.abandoned, (unsigned long long)st.flushed,
	       (double)st.max_call_us / 1000.0, (unsigned long long)st.violations);
	return st.violations ? 1 : 0;
}
