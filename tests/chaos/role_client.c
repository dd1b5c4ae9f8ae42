/* SPDX-License-Identifier: MIT */
/*
 * The client role: connect (retrying with backoff while no server is up),
 * then send requests with ever-increasing sequence numbers, each through one
 * of three paths (request, send + recv, reserve/commit + recv_view), and
 * verify every reply. A sequence number is never sent twice: after an error
 * the next request gets a new one, so "acknowledged => processed exactly once"
 * can be checked from the logs.
 *
 * A request that timed out may still be answered later (the server was only
 * stopped): its reply arrives before the current one, on the same
 * connection, and is logged as a late acknowledgement.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* A request sent (or maybe sent) on this connection, awaiting its reply. */
struct pending {
	uint64_t seq;
	uint64_t sum;
	uint32_t rep_len;
	int sent; /* 1: surely in the ring; 0: maybe (request() timed out) */
};

#define PEND_MAX 256 /* far more than a ring of CHAOS_RING bytes can hold */

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
	/* the transaction in progress */
	uint64_t t0;
	enum op op;
	int timeout_ms;
	/* pend[tail % PEND_MAX] .. pend[(head - 1) % PEND_MAX] */
	struct pending pend[PEND_MAX];
	uint64_t head, tail;
};

static unsigned char req_buf[CHAOS_RING];
static unsigned char rep_buf[CHAOS_RING];

/* Internal result of on_reply() when the reply broke an invariant. */
#define REPLY_BAD (-100000)

static void viol(struct cli *v, enum viol kind, int rc, uint64_t seq, uint64_t val)
{
	struct rec r = rec_make(R_VIOL, (uint8_t)kind, v->a.cid, v->a.inc);
	r.rc = rc;
	r.seq = seq;
	r.val = val;
	log_rec(v->log, &r);
}

static void log_call(struct cli *v, uint8_t type, enum op op, int rc, uint64_t seq, uint64_t val,
		     uint32_t timeout_ms)
{
	struct rec r = rec_make(type, (uint8_t)op, v->a.cid, v->a.inc);
	uint64_t now = r.t0;
	r.t0 = v->t0;
	r.dur_us = (uint32_t)((now - v->t0) / 1000);
	r.rc = rc;
	r.seq = seq;
	r.val = val;
	r.timeout_ms = timeout_ms;
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
	if (rc == 0) {
		v->self = shmq_client_self(v->c);
		v->max = shmq_client_max_msg(v->c);
		if (v->max > sizeof(req_buf))
			v->max = sizeof(req_buf);
		v->head = v->tail = 0;
		v->backoff_ns = 1000000;
		log_call(v, R_CONNECT, OP_CONNECT, 0, 0, (uint64_t)v->self.slot << 32 | v->self.gen,
			 0);
		return;
	}
	log_call(v, R_CALL, OP_CONNECT, rc, 0, 0, 0);
	switch (-rc) {
	case ENOENT:	   /* no server (yet, or any more) */
	case ECONNREFUSED: /* a dead server's endpoint, not reclaimed yet */
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

/* ---- replies ------------------------------------------------------------- */

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = now_ns();
	if (now >= deadline)
		return 1; /* 0 would mean "don't wait": ask for the shortest wait */
	return (int)((deadline - now + 999999) / 1000000);
}

/* Verify a reply against what is pending. Returns 1 for the reply to the
 * current request, 0 for a late one to an earlier request, REPLY_BAD after
 * logging a violation. */
static int on_reply(struct cli *v, const void *data, size_t len)
{
	struct msg_hdr h;
	if (msg_check(data, len, 1, &h) < 0) {
		viol(v, V_CORRUPT_REP, (int)len, len >= MSG_MIN ? h.seq : 0, v->seq);
		return REPLY_BAD;
	}
	if (h.cid != v->a.cid || h.inc != v->a.inc || h.pid != v->pid || h.slot != v->self.slot ||
	    h.gen != v->self.gen) {
		viol(v, V_WRONG_CLIENT, (int)h.cid, h.seq, (uint64_t)h.inc << 32 | (uint32_t)h.pid);
		return REPLY_BAD;
	}
	/* Replies come in the order of the requests: skip those that never
	 * got one, and log them: the checker finds out from the server's log
	 * whether they were sent (a request() that timed out may not have
	 * been), and why their reply did not come. */
	while (v->tail < v->head && v->pend[v->tail % PEND_MAX].seq < h.seq) {
		struct pending *p = &v->pend[v->tail % PEND_MAX];
		struct rec r = rec_make(R_GAP, (uint8_t)v->op, v->a.cid, v->a.inc);
		r.flag = (uint8_t)p->sent;
		r.seq = p->seq;
		r.val = h.seq;
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
	int current = h.seq == v->seq;
	struct rec r = rec_make(R_ACK, (uint8_t)v->op, v->a.cid, v->a.inc);
	r.flag = !current;
	r.seq = h.seq;
	r.val = p->sum;
	r.dur_us = (uint32_t)((r.t0 - v->t0) / 1000);
	r.t0 = v->t0;
	r.timeout_ms = (uint32_t)v->timeout_ms;
	log_rec(v->log, &r);
	return current;
}

/* Collect replies until the current one, copying or zero-copy. */
static int await_reply(struct cli *v, uint64_t deadline, int view)
{
	for (;;) {
		int r;
		if (view) {
			shmq_msg m;
			int rc = shmq_client_recv_view(v->c, &m, remaining_ms(deadline));
			if (rc < 0)
				return rc;
			r = on_reply(v, m.data, m.len);
			shmq_client_release(v->c, &m);
		} else {
			ssize_t n = shmq_client_recv(v->c, rep_buf, sizeof(rep_buf),
						     remaining_ms(deadline));
			if (n < 0)
				return (int)n;
			r = on_reply(v, rep_buf, (size_t)n);
		}
		if (r != 0)
			return r == 1 ? 0 : r;
	}
}

/* ---- one request --------------------------------------------------------- */

static struct pending *push(struct cli *v, uint64_t seq, uint32_t rep_len)
{
	if (v->head - v->tail == PEND_MAX)
		v->tail++; /* cannot happen with CHAOS_RING; forget the oldest */
	struct pending *p = &v->pend[v->head++ % PEND_MAX];
	*p = (struct pending){.seq = seq, .rep_len = rep_len};
	return p;
}

static int do_request(struct cli *v, struct msg_hdr *h, struct pending *p, uint64_t deadline)
{
	p->sum = msg_fill(req_buf, h, 0);
	ssize_t n =
	    shmq_client_request(v->c, req_buf, h->len, rep_buf, sizeof(rep_buf), v->timeout_ms);
	if (n < 0)
		return (int)n; /* maybe sent: a late reply is welcome */
	p->sent = 1;
	int r = on_reply(v, rep_buf, (size_t)n);
	if (r != 0)
		return r == 1 ? 0 : r;
	return await_reply(v, deadline, 0);
}

static int do_sendrecv(struct cli *v, struct msg_hdr *h, struct pending *p, uint64_t deadline)
{
	p->sum = msg_fill(req_buf, h, 0);
	int rc = shmq_client_send(v->c, req_buf, h->len, remaining_ms(deadline));
	if (rc < 0) {
		v->head--; /* a failed send sent nothing */
		return rc;
	}
	p->sent = 1;
	return await_reply(v, deadline, 0);
}

static int do_zerocopy(struct cli *v, struct msg_hdr *h, struct pending *p, uint64_t deadline)
{
	void *buf = NULL;
	int rc = shmq_client_reserve(v->c, h->len, &buf, remaining_ms(deadline));
	if (rc < 0) {
		v->head--;
		return rc;
	}
	p->sum = msg_fill(buf, h, 0); /* written straight into the ring */
	if ((rc = shmq_client_commit(v->c, h->len, SHMQ_MSG_REQUEST)) < 0) {
		v->head--;
		return rc;
	}
	p->sent = 1;
	return await_reply(v, deadline, 1);
}

/* What an error means for the connection. */
static void after_error(struct cli *v, int rc)
{
	if (inject("slowpipe") && rc == -EPIPE)
		linger(1200); /* the fault: -EPIPE noticed late */
	log_call(v, R_CALL, v->op, rc, v->seq, 0, (uint32_t)v->timeout_ms);
	switch (-rc) {
	case ETIMEDOUT: /* the server is stopped, or busy: stay connected */
		return;
	case EPIPE: /* the server died or closed */
		break;
	case EINTR:
		if (!stop)
			viol(v, V_EINTR, rc, v->seq, v->op);
		break;
	default:
		if (rc != REPLY_BAD)
			viol(v, V_BAD_ERROR, rc, v->seq, v->op);
		break; /* the stream is in doubt: start afresh */
	}
	disconnect(v);
}

static void transaction(struct cli *v)
{
	static const enum op ops[] = {OP_REQUEST, OP_SENDRECV, OP_ZEROCOPY};
	v->op = ops[rnd(&v->rng) % 3];
	struct msg_hdr h = {
	    .cid = v->a.cid,
	    .inc = v->a.inc,
	    .pid = v->pid,
	    .slot = v->self.slot,
	    .gen = v->self.gen,
	    .seq = ++v->seq,
	    .op = v->op,
	    .flags = v->op == OP_SENDRECV ? 0 : SHMQ_MSG_REQUEST,
	    .len = (uint32_t)msg_pick_len(&v->rng, v->max),
	    .rep_len = (uint32_t)msg_pick_len(&v->rng, v->max),
	};
	struct pending *p = push(v, h.seq, h.rep_len);
	v->timeout_ms = rnd(&v->rng) % 8 ? CHAOS_CALL_MS : CHAOS_LONG_CALL_MS;
	v->t0 = now_ns();
	if (inject("hang") && h.seq % 100 == 50) {
		/* The fault: a call that takes too long (SIGKILLs may cut some). */
		v->timeout_ms = CHAOS_CALL_MS;
		linger(1800);
	}
	uint64_t deadline = v->t0 + (uint64_t)v->timeout_ms * 1000000ull;
	int rc;
	switch (v->op) {
	case OP_REQUEST:
		rc = do_request(v, &h, p, deadline);
		break;
	case OP_SENDRECV:
		rc = do_sendrecv(v, &h, p, deadline);
		break;
	default:
		rc = do_zerocopy(v, &h, p, deadline);
		break;
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
	if (v.c)
		disconnect(&v);
	check_fds(&v);
	r = rec_make(R_EXIT, OP_NONE, v.a.cid, v.a.inc);
	log_rec(v.log, &r);
	close(v.log);
	return 0;
}
