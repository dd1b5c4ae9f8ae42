/* SPDX-License-Identifier: MIT */
/*
 * The client role: connect (retrying with backoff while no server is up),
 * then run transactions, each with fresh sequence numbers, one of
 *   - request:   shmq_client_request;
 *   - zero-copy: reserve_request + commit(&id), recv_reply(_view)(id);
 *   - pipeline:  1..CHAOS_WINDOW requests with send_request (or
 *                reserve_request), collected with recv_reply by id in random
 *                order, or with SHMQ_ANY_REQUEST, sometimes one cancelled;
 *   - send+push: a one-way message (send, or reserve + commit) that asks for
 *                a push, taken with recv or recv_view;
 *   - one-way:   1..4 one-way messages that ask for nothing, then a flush.
 * A sequence number is never sent twice, so "acknowledged => processed
 * exactly once" can be checked from the logs.
 *
 * Every reply is checked against the very request made with that id: its
 * payload names the request's sequence number, client, incarnation,
 * connection and checksum. A reply to an abandoned request, to another
 * request, or one returned by shmq_client_recv, is a violation.
 *
 * A request whose reply did not come in time is abandoned (-EINPROGRESS, or
 * our own shmq_client_cancel) and logged so; the library's late_replies
 * count goes with every acknowledgement, so that the checker can tell a
 * reply the library lost from one it rightly discarded.
 *
 * shmq_client_flush is called after one-way messages, now and then after
 * anything, after -EPIPE (a server shutting down or gone) and before a
 * graceful exit; when it returns 0, the messages it covered are logged as
 * flushed, and the checker requires each to be in the server's log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaos.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* A one-way message that asked for a push, awaiting it. Pushes come in the
 * order of the messages. */
struct pending {
	uint64_t seq;
	uint64_t sum;
	uint32_t rep_len;
};

#define PEND_MAX 256 /* far more than a ring of CHAOS_RING bytes can hold */

/* A request sent and neither answered nor abandoned. */
struct outreq {
	uint64_t id; /* 0: sent by shmq_client_request, which tells none */
	uint64_t seq;
	uint64_t sum;
	uint32_t rep_len;
};

/* Messages sent on this connection since the last flush that returned 0,
 * as runs of consecutive sequence numbers. */
struct run {
	uint64_t first, last;
};

#define RUNS_MAX 256
#define ABAND_KEEP 64 /* abandoned sequence numbers remembered, to name a late reply */

/* Pipelined requests: payload bytes in flight per direction, so that the
 * replies always fit in the reply ring while we still send: neither side
 * then waits on the other. */
#define WINDOW_BYTES 3000

struct cli {
	struct role_args a;
	shmq_config cfg;
	shmq_client *c;
	shmq_client_id self;
	int log;
	int32_t pid;
	uint64_t rng;
	uint64_t seq; /* last sequence number used */
	size_t max;
	long fds0, fds_seen;
	uint64_t backoff_ns;
	uint32_t conn; /* connections made so far by this incarnation */
	/* the transaction in progress */
	uint64_t t0;
	enum op op;
	int timeout_ms;
	uint64_t push_seq; /* send+push: the message whose push we wait for */
	/* pushes awaited: pend[tail % PEND_MAX] .. pend[(head - 1) % PEND_MAX] */
	struct pending pend[PEND_MAX];
	uint64_t head, tail;
	/* requests outstanding */
	struct outreq out[CHAOS_WINDOW];
	int nout;
	/* abandoned on this connection */
	uint64_t abandoned;
	uint64_t aband_seq[ABAND_KEEP];
	int late_reported;
	/* sent since the last successful flush */
	struct run runs[RUNS_MAX];
	int nruns;
	uint64_t last_commit_ns;
	/* self-test faults */
	uint64_t replies_seen;
};

static unsigned char req_buf[CHAOS_RING];
static unsigned char rep_buf[CHAOS_RING];

/* Internal result when a reply broke an invariant (already logged). */
#define REPLY_BAD (-100000)

static void viol(struct cli *v, enum viol kind, int rc, uint64_t seq, uint64_t val)
{
	struct rec r = rec_make(R_VIOL, (uint8_t)kind, v->a.cid, v->a.inc);
	r.rc = rc;
	r.seq = seq;
	r.val = val;
	r.conn = v->conn;
	log_rec(v->log, &r);
}

/* Self-test faults: spend ms of running time, which the checker cannot put
 * down to a stop or a machine stall (steps that took long are not counted). */
static void linger(unsigned ms)
{
	uint64_t ran = 0;
	while (!stop && ran < ms * 1000000ull) {
		uint64_t t = now_ns();
		sleep_ns(5 * 1000000ull);
		uint64_t d = now_ns() - t;
		ran += d < 15 * 1000000ull ? d : 0;
	}
}

/* A failed call of the transaction in progress. flag: CALL_*. */
static void log_fail(struct cli *v, int rc, uint64_t seq, uint8_t flag)
{
	if (inject("slowpipe") && rc == -EPIPE)
		linger(1200); /* the fault: -EPIPE noticed late */
	struct rec r = rec_make(R_CALL, (uint8_t)v->op, v->a.cid, v->a.inc);
	uint64_t now = r.t0;
	r.t0 = v->t0;
	r.dur_us = (uint32_t)((now - v->t0) / 1000);
	r.rc = rc;
	r.seq = seq;
	r.flag = flag;
	r.conn = v->conn;
	r.timeout_ms = (uint32_t)v->timeout_ms;
	log_rec(v->log, &r);
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = now_ns();
	if (now >= deadline)
		return 1; /* 0 would mean "don't wait": ask for the shortest wait */
	return (int)((deadline - now + 999999) / 1000000);
}

static shmq_client_stats stats(struct cli *v)
{
	shmq_client_stats st = {0};
	int rc = shmq_client_stat(v->c, &st);
	if (rc < 0)
		viol(v, V_BAD_ERROR, rc, v->seq, OP_NONE);
	return st;
}

/* The library's count of late replies discarded; never more than we
 * abandoned on this connection. */
static uint32_t late_replies(struct cli *v)
{
	shmq_client_stats st = stats(v);
	if (st.late_replies > v->abandoned && !v->late_reported++)
		viol(v, V_LATE_COUNT, 0, v->seq, st.late_replies << 32 | (v->abandoned & 0xffffffffu));
	return (uint32_t)st.late_replies;
}

/* ---- what was sent, for flush ---------------------------------------------- */

/* Message seq was committed just now. */
static void sent(struct cli *v, uint64_t seq)
{
	/* Our commit is visible to the server before the clock says so: the
	 * checker compares this time with the server's shutdown. */
	atomic_thread_fence(memory_order_seq_cst);
	v->last_commit_ns = now_ns();
	if (v->nruns && v->runs[v->nruns - 1].last + 1 == seq) {
		v->runs[v->nruns - 1].last = seq;
		return;
	}
	if (v->nruns == RUNS_MAX) { /* forget the oldest: claims are optional */
		memmove(&v->runs[0], &v->runs[1], (RUNS_MAX - 1) * sizeof(v->runs[0]));
		v->nruns--;
	}
	v->runs[v->nruns++] = (struct run){seq, seq};
}

static uint64_t unflushed(const struct cli *v)
{
	uint64_t n = 0;
	for (int i = 0; i < v->nruns; i++)
		n += v->runs[i].last - v->runs[i].first + 1;
	return n;
}

/* Flush: 0 (what it covered is logged as flushed), -ETIMEDOUT (kept for
 * the next flush), or the error. */
static int do_flush(struct cli *v, int timeout_ms)
{
	uint64_t t0 = now_ns();
	int rc = shmq_client_flush(v->c, timeout_ms);
	uint64_t dur = now_ns() - t0;
	if (rc == 0) {
		for (int i = 0; i < v->nruns; i++) {
			struct rec r = rec_make(R_FLUSH, OP_FLUSH, v->a.cid, v->a.inc);
			r.seq = v->runs[i].first;
			r.val = v->runs[i].last;
			r.conn = v->conn;
			r.t0 = t0;
			r.dur_us = (uint32_t)(dur / 1000);
			r.timeout_ms = (uint32_t)timeout_ms;
			log_rec(v->log, &r);
		}
		v->nruns = 0;
		return 0;
	}
	struct rec r = rec_make(R_CALL, OP_FLUSH, v->a.cid, v->a.inc);
	r.rc = rc;
	r.flag = CALL_NA;
	r.val = v->last_commit_ns;
	r.aux = (uint32_t)unflushed(v);
	r.conn = v->conn;
	r.seq = v->seq;
	r.t0 = t0;
	r.dur_us = (uint32_t)(dur / 1000);
	r.timeout_ms = (uint32_t)timeout_ms;
	log_rec(v->log, &r);
	if (rc != -ETIMEDOUT && rc != -EINTR) {
		v->nruns = 0; /* the server will never take them now */
		v->last_commit_ns = 0; /* and this is said: not again */
	}
	return rc;
}

/* ---- connecting ---------------------------------------------------------- */

static void backoff(struct cli *v)
{
	sleep_ns(rnd_range(&v->rng, v->backoff_ns / 2, v->backoff_ns));
	v->backoff_ns *= 2;
	if (v->backoff_ns > 100000000ull)
		v->backoff_ns = 100000000ull;
}

/* Not connected: exactly the fds we started with, whatever failed. */
static void check_fds(struct cli *v)
{
	long fds = count_fds();
	if (fds != v->fds0 && fds != v->fds_seen) {
		viol(v, V_FD_LEAK, (int)v->fds0, 0, (uint64_t)fds);
		v->fds_seen = fds;
	}
}

static void connect_once(struct cli *v)
{
	static int leaked;
	if (inject("fdleak") && !leaked++)
		(void)open("/dev/null", O_RDONLY | O_CLOEXEC); /* the fault */
	check_fds(v);
	v->t0 = now_ns();
	int rc = shmq_client_connect(&v->c, &v->cfg);
	struct rec r = rec_make(rc == 0 ? R_CONNECT : R_CALL, OP_CONNECT, v->a.cid, v->a.inc);
	r.dur_us = (uint32_t)((r.t0 - v->t0) / 1000);
	r.t0 = v->t0;
	r.rc = rc;
	r.flag = CALL_NA;
	r.timeout_ms = 0;
	if (rc == 0) {
		v->self = shmq_client_self(v->c);
		v->max = shmq_client_max_msg(v->c);
		if (v->max > sizeof(req_buf))
			v->max = sizeof(req_buf);
		v->conn++;
		v->head = v->tail = 0;
		v->nout = 0;
		v->abandoned = 0;
		v->late_reported = 0;
		v->nruns = 0;
		v->last_commit_ns = 0;
		v->backoff_ns = 1000000;
		r.val = (uint64_t)v->self.slot << 32 | v->self.gen;
		r.conn = v->conn;
		log_rec(v->log, &r);
		return;
	}
	log_rec(v->log, &r);
	switch (-rc) {
	case ENOENT:	   /* no server (yet, or any more) */
	case ECONNREFUSED: /* a dead server's endpoint, not reclaimed yet */
	case ESHUTDOWN:	   /* the server is shutting down */
	case EAGAIN:	   /* a new server is replacing the endpoint */
	case EPROTO:	   /* ... and has not written its header yet */
	case EUSERS:	   /* dead clients' slots not yet freed */
		break;
	default:
		viol(v, V_BAD_ERROR, rc, 0, OP_CONNECT);
	}
	backoff(v);
}

static void disconnect(struct cli *v)
{
	shmq_client_close(v->c);
	v->c = NULL;
}

/* ---- messages ------------------------------------------------------------ */

static struct msg_hdr make_hdr(struct cli *v, enum op op, uint32_t flags, size_t len,
			       size_t rep_len)
{
	return (struct msg_hdr){
	    .cid = v->a.cid,
	    .inc = v->a.inc,
	    .pid = v->pid,
	    .slot = v->self.slot,
	    .gen = v->self.gen,
	    .seq = ++v->seq,
	    .op = op,
	    .flags = flags,
	    .len = (uint32_t)len,
	    .rep_len = (uint32_t)rep_len,
	    .conn = v->conn,
	};
}

static int ours(const struct cli *v, const struct msg_hdr *h)
{
	return h->cid == v->a.cid && h->inc == v->a.inc && h->pid == v->pid &&
	       h->slot == v->self.slot && h->gen == v->self.gen && h->conn == v->conn;
}

static int was_abandoned(const struct cli *v, uint64_t seq)
{
	for (int i = 0; i < ABAND_KEEP; i++)
		if (v->aband_seq[i] == seq && seq)
			return 1;
	return 0;
}

static void abandon(struct cli *v, const struct outreq *o, uint8_t own_cancel)
{
	v->abandoned++;
	v->aband_seq[v->abandoned % ABAND_KEEP] = o->seq;
	struct rec r = rec_make(R_ABANDON, (uint8_t)v->op, v->a.cid, v->a.inc);
	r.seq = o->seq;
	r.id = o->id;
	r.conn = v->conn;
	r.flag = own_cancel;
	r.aux = late_replies(v);
	log_rec(v->log, &r);
}

static void out_del(struct cli *v, int k)
{
	v->out[k] = v->out[--v->nout];
}

/* ---- replies ------------------------------------------------------------- */

/* The library returned this reply as the answer to request `want` (an id,
 * SHMQ_ANY_REQUEST, or, with m NULL, the single request outstanding, sent by
 * shmq_client_request). Check that it answers exactly the request we made
 * with that id, and log it. Returns the index of that request in out[], or
 * REPLY_BAD after logging a violation. */
static int check_reply(struct cli *v, const void *data, size_t len, const shmq_msg *m,
		       uint64_t want)
{
	struct msg_hdr h;
	int kind = msg_kind(data, len);
	int k = -1;
	if (m) {
		if (!(m->flags & SHMQ_MSG_REPLY) || kind == KIND_PUSH) {
			viol(v, V_REPLY_KIND, (int)m->flags, 0, m->id);
			return REPLY_BAD;
		}
		if (want != SHMQ_ANY_REQUEST && m->id != want) {
			viol(v, V_WRONG_REQUEST, 1, want, m->id);
			return REPLY_BAD;
		}
		for (int i = 0; i < v->nout; i++)
			if (v->out[i].id == m->id)
				k = i;
	} else if (v->nout == 1) {
		k = 0;
	}
	int ok = msg_check(data, len, KIND_REP, &h) == 0;
	if (k < 0) {
		/* An id we have no request outstanding for. */
		viol(v, ok && was_abandoned(v, h.seq) ? V_ABANDONED_REPLY : V_WRONG_REQUEST, 2,
		     ok ? h.seq : 0, m ? m->id : 0);
		return REPLY_BAD;
	}
	/* Self-test: a reply taken for another outstanding request, as if the
	 * library had mixed them up ("wrongreq": caught here) or as if this
	 * check had not seen it ("acceptwrong": the checker must). */
	int mixup = 0;
	if (v->nout >= 2 && ++v->replies_seen % 200 == 0 &&
	    (inject("wrongreq") || inject("acceptwrong"))) {
		k = (k + 1) % v->nout;
		mixup = inject("acceptwrong");
	}
	if (!ok) {
		if (kind == KIND_PUSH || kind == KIND_REQ)
			viol(v, V_REPLY_KIND, kind, v->out[k].seq, m ? m->id : 0);
		else
			viol(v, V_CORRUPT_REP, (int)len, len >= MSG_MIN ? h.seq : 0, v->out[k].seq);
		return REPLY_BAD;
	}
	if (!ours(v, &h)) {
		viol(v, V_WRONG_CLIENT, (int)h.cid, h.seq, (uint64_t)h.inc << 32 | (uint32_t)h.pid);
		return REPLY_BAD;
	}
	struct outreq *o = &v->out[k];
	if (!mixup && (h.seq != o->seq || h.req_sum != o->sum || len != o->rep_len)) {
		viol(v, was_abandoned(v, h.seq) ? V_ABANDONED_REPLY : V_WRONG_REQUEST, 3, h.seq,
		     o->seq);
		return REPLY_BAD;
	}
	int older = 0;
	for (int i = 0; i < v->nout; i++)
		older |= v->out[i].seq < o->seq;
	struct rec r = rec_make(R_ACK, (uint8_t)v->op, v->a.cid, v->a.inc);
	r.flag = want == SHMQ_ANY_REQUEST && older ? ACK_OOO : 0;
	r.seq = o->seq;
	r.val = h.req_sum; /* what the reply says it answers */
	r.id = m ? m->id : 0;
	r.conn = v->conn;
	r.aux = late_replies(v);
	r.dur_us = (uint32_t)((r.t0 - v->t0) / 1000);
	r.t0 = v->t0;
	r.timeout_ms = (uint32_t)v->timeout_ms;
	log_rec(v->log, &r);
	return k;
}

/* A message shmq_client_recv returned: a push answering one of our one-way
 * messages, never a reply. Returns 1 for the push to the current message, 0
 * for a late one to an earlier message, REPLY_BAD after logging. */
static int on_push(struct cli *v, const void *data, size_t len, const shmq_msg *m)
{
	struct msg_hdr h;
	int kind = msg_kind(data, len);
	if ((m && (m->flags & SHMQ_MSG_REPLY)) || kind == KIND_REP) {
		viol(v, V_REPLY_KIND, m ? (int)m->flags : -1, 0, m ? m->id : 0);
		return REPLY_BAD;
	}
	if (msg_check(data, len, KIND_PUSH, &h) < 0) {
		viol(v, V_CORRUPT_REP, (int)len, len >= MSG_MIN ? h.seq : 0, v->seq);
		return REPLY_BAD;
	}
	if (!ours(v, &h)) {
		viol(v, V_WRONG_CLIENT, (int)h.cid, h.seq, (uint64_t)h.inc << 32 | (uint32_t)h.pid);
		return REPLY_BAD;
	}
	/* Pushes come in the order of the messages: skip those that never
	 * got one, and log them: the checker finds out from the server's log
	 * why their push did not come. */
	while (v->tail < v->head && v->pend[v->tail % PEND_MAX].seq < h.seq) {
		struct pending *p = &v->pend[v->tail % PEND_MAX];
		struct rec r = rec_make(R_GAP, (uint8_t)OP_SENDPUSH, v->a.cid, v->a.inc);
		r.flag = 1;
		r.seq = p->seq;
		r.val = h.seq;
		r.conn = v->conn;
		log_rec(v->log, &r);
		v->tail++;
	}
	struct pending *p = &v->pend[v->tail % PEND_MAX];
	if (v->tail == v->head || p->seq != h.seq) {
		viol(v, V_REPLY_ORDER, 0, h.seq, v->seq);
		return REPLY_BAD;
	}
	if (h.req_sum != p->sum || len != p->rep_len) {
		viol(v, V_CORRUPT_REP, (int)len, h.seq, p->sum);
		return REPLY_BAD;
	}
	v->tail++;
	int current = h.seq == v->push_seq;
	struct rec r = rec_make(R_ACK, (uint8_t)OP_SENDPUSH, v->a.cid, v->a.inc);
	r.flag = ACK_PUSH | (current ? 0 : ACK_LATE);
	r.seq = h.seq;
	r.val = h.req_sum;
	r.conn = v->conn;
	r.aux = late_replies(v);
	r.dur_us = (uint32_t)((r.t0 - v->t0) / 1000);
	r.t0 = v->t0;
	r.timeout_ms = (uint32_t)v->timeout_ms;
	log_rec(v->log, &r);
	return current;
}

/* Collect pushes until the current one, copying or zero-copy. */
static int await_push(struct cli *v, uint64_t deadline, int view)
{
	for (;;) {
		int r;
		if (view) {
			shmq_msg m;
			int rc = shmq_client_recv_view(v->c, &m, remaining_ms(deadline));
			if (rc < 0)
				return rc;
			r = on_push(v, m.data, m.len, &m);
			shmq_client_release(v->c, &m);
		} else {
			ssize_t n = shmq_client_recv(v->c, rep_buf, sizeof(rep_buf),
						     remaining_ms(deadline));
			if (n < 0)
				return (int)n;
			r = on_push(v, rep_buf, (size_t)n, NULL);
		}
		if (r != 0)
			return r == 1 ? 0 : r;
	}
}

/* Receive the reply to `want` (an id or SHMQ_ANY_REQUEST), copying or
 * zero-copy, and check it. The index in out[], or an error. */
static int take_reply(struct cli *v, uint64_t want, uint64_t deadline, int view)
{
	shmq_msg m = {0};
	if (view) {
		int rc = shmq_client_recv_reply_view(v->c, want, &m, remaining_ms(deadline));
		if (rc < 0)
			return rc;
		int k = check_reply(v, m.data, m.len, &m, want);
		if ((rc = shmq_client_release(v->c, &m)) < 0)
			viol(v, V_BAD_ERROR, rc, v->seq, OP_NONE);
		return k;
	}
	ssize_t n =
	    shmq_client_recv_reply(v->c, want, rep_buf, sizeof(rep_buf), &m, remaining_ms(deadline));
	if (n < 0)
		return (int)n;
	if (m.len != (size_t)n) {
		viol(v, V_STATS, (int)n, v->seq, m.len);
		return REPLY_BAD;
	}
	return check_reply(v, rep_buf, (size_t)n, &m, want);
}

/* The request's reply did not come in time: abandon it ourselves. */
static void cancel(struct cli *v, int k)
{
	int rc = shmq_client_cancel(v->c, v->out[k].id);
	if (rc != 0)
		viol(v, V_BAD_ERROR, rc, v->out[k].seq, OP_CANCEL);
	abandon(v, &v->out[k], 1);
	out_del(v, k);
}

static int timed_out(int rc)
{
	return rc == -ETIMEDOUT || rc == -EAGAIN;
}

/* ---- transactions ---------------------------------------------------------- */

static int do_request(struct cli *v, uint64_t deadline)
{
	(void)deadline; /* the call has its own timeout, for both halves */
	struct msg_hdr h = make_hdr(v, OP_REQUEST, SHMQ_MSG_REQUEST, msg_pick_len(&v->rng, v->max),
				    msg_pick_len(&v->rng, v->max));
	uint64_t sum = msg_fill(req_buf, &h, KIND_REQ);
	v->out[0] = (struct outreq){0, h.seq, sum, h.rep_len};
	v->nout = 1;
	uint64_t before = stats(v).msgs_out;
	ssize_t n =
	    shmq_client_request(v->c, req_buf, h.len, rep_buf, sizeof(rep_buf), v->timeout_ms);
	int was_sent = stats(v).msgs_out != before;
	if (was_sent)
		sent(v, h.seq);
	if (n >= 0) {
		if (!was_sent)
			viol(v, V_STATS, (int)n, h.seq, before);
		if (inject("falsetimeout") && h.seq % 100 == 50) {
			/* The fault: say "nothing was sent" of what was. */
			v->nout = 0;
			log_fail(v, -ETIMEDOUT, h.seq, CALL_UNSENT);
			return 0;
		}
		int k = check_reply(v, rep_buf, (size_t)n, NULL, 0);
		v->nout = 0;
		return k < 0 ? k : 0;
	}
	int rc = (int)n;
	if (rc == -EINPROGRESS) {
		/* Sent, not answered in time (or a signal came): abandoned by
		 * the library. */
		if (!was_sent)
			viol(v, V_BAD_ERROR, rc, h.seq, OP_REQUEST);
		abandon(v, &v->out[0], 0);
		v->nout = 0;
		log_fail(v, rc, h.seq, CALL_SENT);
		return stop ? -EINTR : 0;
	}
	v->nout = 0;
	/* The connection is gone: sent or not, the stats say. Any other error
	 * says nothing was sent: the checker holds the server's log to it. */
	int gone = rc == -EPIPE || rc == -ECONNRESET || rc == -EPROTO;
	if (!gone && was_sent)
		viol(v, V_BAD_ERROR, rc, h.seq, OP_REQUEST);
	log_fail(v, rc, h.seq, gone && was_sent ? CALL_SENT : CALL_UNSENT);
	return timed_out(rc) ? 0 : rc;
}

static int do_zerocopy(struct cli *v, uint64_t deadline)
{
	struct msg_hdr h = make_hdr(v, OP_ZEROCOPY, SHMQ_MSG_REQUEST, msg_pick_len(&v->rng, v->max),
				    msg_pick_len(&v->rng, v->max));
	void *buf = NULL;
	int rc = shmq_client_reserve_request(v->c, h.len, &buf, remaining_ms(deadline));
	if (rc == 0 && rnd(&v->rng) % 32 == 0) {
		/* Change of mind: nothing is sent; then for real. */
		if ((rc = shmq_client_abort(v->c)) != 0)
			viol(v, V_BAD_ERROR, rc, h.seq, OP_ZEROCOPY);
		rc = shmq_client_reserve_request(v->c, h.len, &buf, remaining_ms(deadline));
	}
	if (rc < 0) {
		log_fail(v, rc, h.seq, CALL_UNSENT);
		return timed_out(rc) ? 0 : rc;
	}
	uint64_t sum = msg_fill(buf, &h, KIND_REQ); /* written straight into the ring */
	uint64_t id = 0;
	if ((rc = shmq_client_commit(v->c, h.len, &id)) < 0) {
		log_fail(v, rc, h.seq, CALL_NA);
		return rc;
	}
	sent(v, h.seq);
	v->out[0] = (struct outreq){id, h.seq, sum, h.rep_len};
	v->nout = 1;
	int k = take_reply(v, id, deadline, (int)(rnd(&v->rng) & 1));
	if (k >= 0) {
		v->nout = 0;
		return 0;
	}
	if (k == REPLY_BAD)
		return k;
	if (timed_out(k))
		cancel(v, 0);
	v->nout = 0;
	log_fail(v, k, h.seq, CALL_SENT);
	return timed_out(k) ? 0 : k;
}

/* Small requests, so that a window's replies fit the reply ring. */
static size_t pick_small(struct cli *v)
{
	size_t hi = rnd(&v->rng) % 8 ? MSG_MIN + 64 : 600;
	return (size_t)rnd_range(&v->rng, MSG_MIN, hi < v->max ? hi : v->max);
}

static int do_pipeline(struct cli *v, uint64_t deadline)
{
	int want_n = (int)rnd_range(&v->rng, 1, CHAOS_WINDOW);
	size_t req_bytes = 0, rep_bytes = 0;
	int rc = 0;
	v->nout = 0;
	for (int i = 0; i < want_n; i++) {
		size_t len = pick_small(v), rep_len = pick_small(v);
		req_bytes += len + 24;
		rep_bytes += rep_len + 24;
		if (i && (req_bytes > WINDOW_BYTES || rep_bytes > WINDOW_BYTES))
			break;
		struct msg_hdr h = make_hdr(v, OP_PIPELINE, SHMQ_MSG_REQUEST, len, rep_len);
		uint64_t id = 0, sum = 0;
		if (rnd(&v->rng) % 4 == 0) {
			void *buf = NULL;
			rc = shmq_client_reserve_request(v->c, len, &buf, remaining_ms(deadline));
			if (rc == 0) {
				sum = msg_fill(buf, &h, KIND_REQ);
				rc = shmq_client_commit(v->c, len, &id);
			}
		} else {
			sum = msg_fill(req_buf, &h, KIND_REQ);
			rc = shmq_client_send_request(v->c, req_buf, len, &id, remaining_ms(deadline));
		}
		if (rc < 0) {
			log_fail(v, rc, h.seq, CALL_UNSENT);
			break;
		}
		sent(v, h.seq);
		int dup = id == SHMQ_ANY_REQUEST;
		for (int j = 0; j < v->nout; j++)
			dup |= v->out[j].id == id;
		if (dup)
			viol(v, V_STATS, 1, h.seq, id); /* an id outstanding already */
		v->out[v->nout++] = (struct outreq){id, h.seq, sum, (uint32_t)rep_len};
	}
	if (rc < 0 && !timed_out(rc))
		return rc;
	/* Now and then change our mind about one: its reply must never come. */
	if (v->nout > 1 && rnd(&v->rng) % 8 == 0)
		cancel(v, (int)(rnd(&v->rng) % (uint64_t)v->nout));
	int mode = (int)(rnd(&v->rng) % 3); /* by id, any, mixed */
	int ghost = 0;
	rc = 0;
	while (v->nout > 0 || ghost) {
		uint64_t want = !v->nout || mode == 1 || (mode == 2 && (rnd(&v->rng) & 1))
				    ? SHMQ_ANY_REQUEST
				    : v->out[rnd(&v->rng) % (uint64_t)v->nout].id;
		if (inject("latereply") && v->nout > 1 && !ghost && v->seq % 16 == 0) {
			/* The fault: "abandon" a request without telling the
			 * library, so that its reply still comes (and is
			 * waited for with SHMQ_ANY_REQUEST). */
			abandon(v, &v->out[0], 1);
			v->abandoned--; /* the library will not count it late */
			out_del(v, 0);
			ghost = 1;
			want = SHMQ_ANY_REQUEST;
		}
		int k = take_reply(v, want, deadline, rnd(&v->rng) % 4 == 0);
		if (k == REPLY_BAD)
			return k;
		if (k < 0) {
			rc = k;
			break;
		}
		out_del(v, k);
	}
	if (rc < 0) {
		uint64_t seq = v->nout ? v->out[0].seq : v->seq;
		if (timed_out(rc))
			while (v->nout > 0)
				cancel(v, v->nout - 1);
		v->nout = 0;
		log_fail(v, rc, seq, CALL_SENT);
		return timed_out(rc) ? 0 : rc;
	}
	shmq_client_stats st = stats(v);
	if (st.inflight != 0)
		viol(v, V_STATS, 2, v->seq, st.inflight); /* all answered or cancelled */
	return 0;
}

static int do_sendpush(struct cli *v, uint64_t deadline)
{
	struct msg_hdr h = make_hdr(v, OP_SENDPUSH, 0, msg_pick_len(&v->rng, v->max),
				    msg_pick_len(&v->rng, v->max));
	uint64_t sum = 0;
	int rc;
	if (rnd(&v->rng) & 1) {
		sum = msg_fill(req_buf, &h, KIND_REQ);
		rc = shmq_client_send(v->c, req_buf, h.len, remaining_ms(deadline));
	} else {
		void *buf = NULL;
		rc = shmq_client_reserve(v->c, h.len, &buf, remaining_ms(deadline));
		if (rc == 0) {
			sum = msg_fill(buf, &h, KIND_REQ);
			uint64_t id = 1;
			rc = shmq_client_commit(v->c, h.len, &id);
			if (rc == 0 && id != 0)
				viol(v, V_STATS, 3, h.seq, id); /* a one-way message has no id */
		}
	}
	if (rc < 0) {
		log_fail(v, rc, h.seq, CALL_UNSENT);
		return timed_out(rc) ? 0 : rc;
	}
	sent(v, h.seq);
	if (v->head - v->tail == PEND_MAX)
		v->tail++; /* cannot happen with CHAOS_RING; forget the oldest */
	v->pend[v->head++ % PEND_MAX] = (struct pending){h.seq, sum, h.rep_len};
	v->push_seq = h.seq;
	rc = await_push(v, deadline, (int)(rnd(&v->rng) & 1));
	if (rc == 0 || rc == REPLY_BAD)
		return rc;
	log_fail(v, rc, h.seq, CALL_SENT);
	return timed_out(rc) ? 0 : rc;
}

static int do_sendflush(struct cli *v, uint64_t deadline)
{
	int n = (int)rnd_range(&v->rng, 1, 4);
	for (int i = 0; i < n; i++) {
		struct msg_hdr h = make_hdr(v, OP_SENDFLUSH, 0, msg_pick_len(&v->rng, v->max), 0);
		int rc;
		if (rnd(&v->rng) & 1) {
			msg_fill(req_buf, &h, KIND_REQ);
			rc = shmq_client_send(v->c, req_buf, h.len, remaining_ms(deadline));
		} else {
			void *buf = NULL;
			rc = shmq_client_reserve(v->c, h.len, &buf, remaining_ms(deadline));
			if (rc == 0) {
				msg_fill(buf, &h, KIND_REQ);
				rc = shmq_client_commit(v->c, h.len, NULL);
			}
		}
		if (rc < 0) {
			log_fail(v, rc, h.seq, CALL_UNSENT);
			return timed_out(rc) ? 0 : rc;
		}
		sent(v, h.seq);
	}
	int rc = do_flush(v, remaining_ms(deadline));
	return timed_out(rc) ? 0 : rc;
}

/* What an error means for the connection. */
static void after_error(struct cli *v, int rc)
{
	switch (-rc) {
	case EPIPE:
		/* The server is shutting down, or gone: did it take what we
		 * sent? (-EPIPE if not; then nothing is claimed.) */
		do_flush(v, CHAOS_CALL_MS);
		break;
	case EINTR:
		if (!stop) {
			viol(v, V_EINTR, rc, v->seq, v->op);
			break;
		}
		return; /* SIGTERM: the exit flushes and closes */
	default:
		if (rc != REPLY_BAD)
			viol(v, V_BAD_ERROR, rc, v->seq, v->op);
		break; /* the stream is in doubt: start afresh */
	}
	disconnect(v);
}

static void transaction(struct cli *v)
{
	/* Even clients pipeline more (a pipeline sends up to CHAOS_WINDOW). */
	static const enum op ops[] = {OP_REQUEST,  OP_REQUEST,	 OP_ZEROCOPY, OP_ZEROCOPY,
				      OP_SENDPUSH, OP_SENDFLUSH, OP_PIPELINE, OP_REQUEST,
				      OP_ZEROCOPY, OP_SENDPUSH,	 OP_PIPELINE};
	unsigned nops = v->a.cid % 2 ? 10 : 11;
	v->op = ops[rnd(&v->rng) % nops];
	v->timeout_ms = rnd(&v->rng) % 8 ? CHAOS_CALL_MS : CHAOS_LONG_CALL_MS;
	v->t0 = now_ns();
	if (inject("hang") && v->seq % 100 == 50) {
		/* The fault: a call that takes too long (SIGKILLs may cut some). */
		v->op = OP_REQUEST;
		v->timeout_ms = CHAOS_CALL_MS;
		linger(1800);
	}
	uint64_t deadline = v->t0 + (uint64_t)v->timeout_ms * 1000000ull;
	int rc;
	switch (v->op) {
	case OP_REQUEST:
		rc = do_request(v, deadline);
		break;
	case OP_ZEROCOPY:
		rc = do_zerocopy(v, deadline);
		break;
	case OP_PIPELINE:
		rc = do_pipeline(v, deadline);
		break;
	case OP_SENDPUSH:
		rc = do_sendpush(v, deadline);
		break;
	default:
		rc = do_sendflush(v, deadline);
		break;
	}
	/* Now and then: what did the server take so far? */
	if (rc == 0 && v->nruns && rnd(&v->rng) % 16 == 0) {
		rc = do_flush(v, CHAOS_CALL_MS);
		if (timed_out(rc))
			rc = 0;
	}
	if (rc < 0)
		after_error(v, rc);
}

int client_main(int argc, char **argv)
{
	static struct cli v;
	struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: calls return -EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	unblock_term();
	parse_role_args(argc, argv, &v.a);
	addr_config(&v.a.addr, &v.cfg);
	v.cfg.spin_us = v.a.spin_us;
	v.pid = (int32_t)getpid();
	v.rng = seed_mix(v.a.seed, ((uint64_t)v.a.cid << 32) | v.a.inc);
	char file[32];
	snprintf(file, sizeof(file), "client-%u.log", v.a.cid);
	v.log = log_open(v.a.dir, file);
	v.backoff_ns = 1000000;
	v.fds0 = v.fds_seen = count_fds();
	struct rec r = rec_make(R_START, OP_NONE, v.a.cid, v.a.inc);
	r.val = v.a.spin_us;
	log_rec(v.log, &r);
	if (inject("stray") && v.a.cid == 0 && v.a.inc == 1 && fork() == 0) {
		alarm(30); /* the fault: a process left behind, but not for ever */
		pause();
		_exit(0);
	}
	while (!stop) {
		if (!v.c)
			connect_once(&v);
		else
			transaction(&v);
	}
	if (v.c) {
		/* Leaving gracefully: learn what the server took first. */
		v.op = OP_FLUSH;
		do_flush(&v, CHAOS_CALL_MS);
		disconnect(&v);
	}
	check_fds(&v);
	r = rec_make(R_EXIT, OP_NONE, v.a.cid, v.a.inc);
	log_rec(v.log, &r);
	close(v.log);
	return 0;
}
