/* SPDX-License-Identifier: MIT */
/*
 * The server role: receive requests and one-way messages (copying or
 * zero-copy, at random), check them and log each one (with a view: before it
 * is released, so that what a client's flush says was taken is in the log),
 * then answer: a request with shmq_server_reply or reserve_reply + commit,
 * at once or (one in four) later, out of order, from the shmq_msg kept
 * after the view was released; a one-way message that asks for it with a
 * push (shmq_server_send or reserve + commit). A request a client saw
 * answered is always in the server's log.
 *
 * SIGTERM stops it gracefully: shmq_server_shutdown, then receive (and log,
 * and answer) until -ESHUTDOWN, answer what it held back, shmq_server_close.
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

/* Who the server has seen in each slot, to catch a message attributed to
 * the wrong client. */
struct seen {
	int used;
	uint32_t gen;
	uint32_t cid, inc;
	int32_t pid;
};

/* A request whose reply is held back: the header is all a reply needs, the
 * shmq_msg (from, id, flags) all shmq_server_reply reads. */
struct deferred {
	shmq_msg m;
	struct msg_hdr h;
	uint64_t since;
};

#define DEFER_AGE_NS (20 * 1000000ull) /* answered by then, at the latest */
#define DRAIN_REPLY_MS 100		/* shutting down: don't wait long on a stopped client */
#define DRAIN_MS 2000			/* -ESHUTDOWN must come by then */

struct srv {
	shmq_server *s;
	struct role_args a;
	int log;
	uint64_t rng;
	size_t max;
	uint64_t next_rss;
	uint64_t served, oneway;
	int draining;
	struct seen seen[CHAOS_SLOTS];
	struct deferred dq[CHAOS_DEFER];
	int ndq;
	/* shutting down: clients whose reply ring stayed full (stopped):
	 * not waited for again, gen + 1 (0: none) */
	uint32_t stuck[CHAOS_SLOTS];
};

/* Self-test: one message in INJECT_EVERY gets the injected fault. */
#define INJECT_EVERY 5000

static unsigned char req_buf[CHAOS_RING];
static unsigned char rep_buf[CHAOS_RING];

static void viol(struct srv *v, enum viol kind, shmq_client_id from, const struct msg_hdr *h,
		 int rc)
{
	struct rec r = rec_make(R_VIOL, (uint8_t)kind, h ? h->cid : 0, v->a.inc);
	r.rc = rc;
	r.seq = h ? h->seq : 0;
	r.val = (uint64_t)from.slot << 32 | from.gen;
	log_rec(v->log, &r);
}

/* Log a call that overran its timeout: the checker decides whether stops
 * explain it. */
static void log_slow(struct srv *v, uint8_t op, int rc, uint64_t t0, int timeout_ms)
{
	uint64_t dur = now_ns() - t0;
	if (dur <= (uint64_t)timeout_ms * 1000000ull)
		return;
	struct rec r = rec_make(R_CALL, op, 0, v->a.inc);
	r.rc = rc;
	r.t0 = t0;
	r.dur_us = (uint32_t)(dur / 1000);
	r.timeout_ms = (uint32_t)timeout_ms;
	log_rec(v->log, &r);
}

/* An error a call may legitimately return here; anything else is logged. */
static void call_error(struct srv *v, int rc, shmq_client_id from)
{
	if (rc == -ETIMEDOUT || rc == -ENOTCONN)
		return;
	if (rc == -EINTR) {
		if (!stop)
			viol(v, V_EINTR, from, NULL, rc);
		return;
	}
	viol(v, V_BAD_ERROR, from, NULL, rc);
}

static void sample_rss(struct srv *v)
{
	uint64_t now = now_ns();
	if (now < v->next_rss)
		return;
	v->next_rss = now + 1000000000ull;
	if (inject("rss")) {
		static void *volatile leak; /* volatile: the compiler must keep it */
		leak = malloc(4 << 20);	    /* never freed: the fault */
		if (leak)
			memset(leak, 1, 4 << 20);
	}
	struct rec r = rec_make(R_RSS, OP_NONE, 0, v->a.inc);
	r.val = (uint64_t)rss_kb();
	r.seq = (uint64_t)count_fds();
	log_rec(v->log, &r);
}

/* Is the request from the slot and client it claims? */
static void check_sender(struct srv *v, shmq_client_id from, const struct msg_hdr *h)
{
	if (from.slot >= CHAOS_SLOTS || h->slot != from.slot || h->gen != from.gen) {
		viol(v, V_MISROUTED, from, h, 0);
		return;
	}
	struct seen *sn = &v->seen[from.slot];
	if (sn->used && sn->gen == from.gen) {
		if (sn->cid != h->cid || sn->inc != h->inc || sn->pid != h->pid)
			viol(v, V_MISROUTED, from, h, 1);
	} else {
		*sn = (struct seen){1, from.gen, h->cid, h->inc, h->pid};
	}
	shmq_client_info ci;
	/* -ENOTCONN: it left or died, and we serve what it sent before. */
	if (shmq_server_client_info(v->s, from, &ci) == 0 && ci.pid != h->pid)
		viol(v, V_MISROUTED, from, h, 2);
}

/* A reply or push that failed: the client will never see it. Say so, for
 * the checker's look at what clients missed. */
static void log_nosend(struct srv *v, uint8_t op, int rc, const struct msg_hdr *h,
		       const shmq_msg *m, uint64_t t0, int timeout_ms)
{
	struct rec r = rec_make(R_CALL, op, h->cid, v->a.inc);
	r.rc = rc;
	r.seq = h->seq;
	r.val = h->inc;
	r.id = m->id;
	r.conn = h->conn;
	r.t0 = t0;
	r.dur_us = (uint32_t)((now_ns() - t0) / 1000);
	r.timeout_ms = (uint32_t)timeout_ms;
	log_rec(v->log, &r);
}

static int send_timeout(const struct srv *v)
{
	return v->draining ? DRAIN_REPLY_MS : CHAOS_CALL_MS;
}

/* Shutting down, and this client's reply ring stayed full: don't wait again
 * (the drain must end in time); the answer counts as not sent. */
static int stuck(struct srv *v, shmq_client_id to)
{
	return v->draining && to.slot < CHAOS_SLOTS && v->stuck[to.slot] == to.gen + 1;
}

static void note_stuck(struct srv *v, shmq_client_id to, int rc)
{
	if (v->draining && rc == -ETIMEDOUT && to.slot < CHAOS_SLOTS)
		v->stuck[to.slot] = to.gen + 1;
}

/* Answer request m (header h): copying or zero-copy. */
static void reply(struct srv *v, const shmq_msg *m, const struct msg_hdr *h, int fault)
{
	struct msg_hdr rh = *h;
	rh.len = h->rep_len;
	rh.req_sum = h->sum;
	int rc, tmo = send_timeout(v);
	if (fault && inject("drop"))
		return;
	shmq_msg to = *m; /* only from, id and flags are read */
	if (fault && inject("misroute")) {
		/* The fault: the answer goes to another client, with this
		 * request's id. */
		shmq_client_info ci;
		for (uint32_t i = 0; i < CHAOS_SLOTS; i++) {
			shmq_client_id other = {i, v->seen[i].gen};
			if (i != m->from.slot && v->seen[i].used &&
			    shmq_server_client_info(v->s, other, &ci) == 0)
				to.from = other;
		}
	}
	uint64_t t0 = now_ns();
	if (stuck(v, to.from)) {
		log_nosend(v, OP_SRV_SEND, -ETIMEDOUT, h, m, t0, 0);
		return;
	}
	if ((rnd(&v->rng) & 1) || (fault && inject("corrupt"))) {
		msg_fill(rep_buf, &rh, KIND_REP);
		if (fault && inject("corrupt"))
			rep_buf[rh.len - 1] ^= 0x20;
		rc = shmq_server_reply(v->s, &to, rep_buf, rh.len, tmo);
	} else {
		void *p = NULL;
		rc = shmq_server_reserve_reply(v->s, &to, rh.len, &p, tmo);
		if (rc == 0) {
			msg_fill(p, &rh, KIND_REP);
			rc = shmq_server_commit(v->s, rh.len);
		}
	}
	if (rc == 0) {
		log_slow(v, OP_SRV_SEND, rc, t0, tmo);
	} else {
		log_nosend(v, OP_SRV_SEND, rc, h, m, t0, tmo);
		note_stuck(v, to.from, rc);
		call_error(v, rc, to.from);
	}
}

/* A one-way message that asks for an answer gets a push of the server's own. */
static void push(struct srv *v, const shmq_msg *m, const struct msg_hdr *h)
{
	struct msg_hdr ph = *h;
	ph.len = h->rep_len;
	ph.req_sum = h->sum;
	int rc, tmo = send_timeout(v);
	uint64_t t0 = now_ns();
	if (stuck(v, m->from)) {
		log_nosend(v, OP_SRV_PUSH, -ETIMEDOUT, h, m, t0, 0);
		return;
	}
	if (rnd(&v->rng) & 1) {
		msg_fill(rep_buf, &ph, KIND_PUSH);
		rc = shmq_server_send(v->s, m->from, rep_buf, ph.len, tmo);
	} else {
		void *p = NULL;
		rc = shmq_server_reserve(v->s, m->from, ph.len, &p, tmo);
		if (rc == 0) {
			msg_fill(p, &ph, KIND_PUSH);
			rc = shmq_server_commit(v->s, ph.len);
		}
	}
	if (rc == 0) {
		log_slow(v, OP_SRV_PUSH, rc, t0, tmo);
	} else {
		log_nosend(v, OP_SRV_PUSH, rc, h, m, t0, tmo);
		note_stuck(v, m->from, rc);
		call_error(v, rc, m->from);
	}
}

/* Answer held-back request k now, out of order. */
static void answer_deferred(struct srv *v, int k)
{
	struct deferred d = v->dq[k];
	v->dq[k] = v->dq[--v->ndq];
	struct rec r = rec_make(R_REPLY, (uint8_t)d.h.op, d.h.cid, v->a.inc);
	r.seq = d.h.seq;
	r.rc = (int32_t)d.h.inc;
	r.id = d.m.id;
	r.conn = d.h.conn;
	log_rec(v->log, &r); /* before the reply: its place in the log is the reply's */
	reply(v, &d.m, &d.h, 0);
}

/* Held-back requests: answer those that waited long enough, and now and
 * then one at random; all of them if idle. */
static void tend_deferred(struct srv *v, int all)
{
	uint64_t now = now_ns();
	for (int k = 0; k < v->ndq;) {
		if (all || now - v->dq[k].since > DEFER_AGE_NS)
			answer_deferred(v, k);
		else
			k++;
	}
	if (v->ndq && rnd(&v->rng) % 4 == 0)
		answer_deferred(v, (int)(rnd(&v->rng) % (uint64_t)v->ndq));
}

/* Check, log, answer. A view is released after the log record is written
 * (a client's flush may learn of the release at once), the header copied. */
static void serve(struct srv *v, const void *data, size_t len, const shmq_msg *m, int view)
{
	struct msg_hdr h;
	int request = (m->flags & SHMQ_MSG_REQUEST) != 0;
	int ok = msg_check(data, len, KIND_REQ, &h) == 0 && h.cid < CHAOS_MAX_CLIENTS &&
		 h.flags == (m->flags & SHMQ_MSG_REQUEST) &&
		 (request ? m->id != SHMQ_ANY_REQUEST && h.rep_len >= MSG_MIN
			  : m->id == 0 && (h.rep_len == 0 || h.rep_len >= MSG_MIN)) &&
		 h.rep_len <= v->max;
	if (!ok) {
		if (view) {
			shmq_msg mm = *m;
			shmq_server_release(v->s, &mm);
		}
		viol(v, V_CORRUPT_REQ, m->from, len >= MSG_MIN ? &h : NULL, (int)len);
		return;
	}
	check_sender(v, m->from, &h);
	v->served++;
	int fault = v->served % INJECT_EVERY == 0;
	int defer = request && v->ndq < CHAOS_DEFER && rnd(&v->rng) % 4 == 0;
	struct rec r = rec_make(R_PROC, (uint8_t)h.op, h.cid, v->a.inc);
	r.seq = h.seq;
	r.val = h.sum;
	r.rc = (int32_t)h.inc; /* the client's incarnation */
	r.id = m->id;
	r.conn = h.conn;
	r.flag = (uint8_t)((defer ? PROC_DEFERRED : 0) | (request ? PROC_REQUEST : 0) |
			   (!request && h.rep_len ? PROC_PUSH : 0) |
			   (v->draining ? PROC_DRAIN : 0));
	int forget = 0;
	if (!request && !h.rep_len && ++v->oneway % 500 == 0 && inject("forget"))
		forget = 1; /* the fault: a message a client will flush, not logged */
	if (!(fault && inject("unlogged")) && !forget)
		log_rec(v->log, &r);
	if (fault && inject("dup"))
		log_rec(v->log, &r);
	if (view) {
		shmq_msg mm = *m;
		shmq_server_release(v->s, &mm);
	}
	if (!request) {
		if (h.rep_len)
			push(v, m, &h);
		return;
	}
	if (defer) {
		shmq_msg keep = *m;
		keep.data = NULL; /* released: only from, id and flags are used */
		v->dq[v->ndq++] = (struct deferred){keep, h, now_ns()};
		return;
	}
	reply(v, m, &h, fault);
}

/* Receive and serve one message: 1 if one came, 0 if not, -ESHUTDOWN. */
static int serve_one(struct srv *v, int timeout_ms)
{
	shmq_msg m;
	int view = rnd(&v->rng) & 1;
	uint64_t t0 = now_ns();
	ssize_t n;
	if (view) {
		n = shmq_server_recv_view(v->s, &m, timeout_ms);
		if (n == 0)
			n = (ssize_t)m.len;
	} else {
		n = shmq_server_recv(v->s, req_buf, sizeof(req_buf), &m, timeout_ms);
	}
	log_slow(v, OP_SRV_RECV, n < 0 ? (int)n : 0, t0, timeout_ms);
	if (n == -ESHUTDOWN && v->draining)
		return -ESHUTDOWN;
	if (n < 0) {
		call_error(v, (int)n, (shmq_client_id){0, 0});
		return 0;
	}
	serve(v, view ? m.data : req_buf, (size_t)n, &m, view);
	return 1;
}

/* The System V id the library recorded in its lock file, so that the
 * driver can check at the end that no incarnation's segment survived. */
static long sysv_id(const struct addr *a)
{
	if (a->posix)
		return -1;
	char path[128], buf[32] = {0};
	snprintf(path, sizeof(path), "/dev/shm/shmq.sysv.0x%08x.lock", (unsigned)a->key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static void start(struct srv *v)
{
	shmq_config cfg;
	addr_config(&v->a.addr, &cfg);
	cfg.spin_us = v->a.spin_us;
	/* Tell the driver: it may kill us in the middle of what follows. */
	if (v->a.ready_fd >= 0 && write(v->a.ready_fd, "c", 1) != 1)
		fprintf(stderr, "chaos server: ready pipe: %s\n", strerror(errno));
	uint64_t t0 = now_ns();
	int rc = shmq_server_create(&v->s, &cfg);
	if (rc < 0) {
		struct rec r = rec_make(R_CALL, OP_CREATE, 0, v->a.inc);
		r.rc = rc;
		r.t0 = t0;
		log_rec(v->log, &r);
		fprintf(stderr, "chaos server %u: create: %s\n", v->a.inc, shmq_strerror(rc));
		exit(2);
	}
	v->max = shmq_server_max_msg(v->s);
	if (v->max > sizeof(rep_buf))
		v->max = sizeof(rep_buf);
	struct rec r = rec_make(R_START, OP_CREATE, 0, v->a.inc);
	r.val = (uint64_t)sysv_id(&v->a.addr);
	r.seq = v->a.spin_us;
	log_rec(v->log, &r);
	if (v->a.ready_fd >= 0) {
		if (write(v->a.ready_fd, "r", 1) != 1)
			fprintf(stderr, "chaos server: ready pipe: %s\n", strerror(errno));
		close(v->a.ready_fd);
	}
}

static void drain_viol(struct srv *v, int rc, uint64_t what)
{
	struct rec r = rec_make(R_VIOL, V_DRAIN, 0, v->a.inc);
	r.rc = rc;
	r.val = what;
	log_rec(v->log, &r);
}

/* SIGTERM: stop gracefully. Everything committed before the shutdown is
 * received, logged and answered; then the held-back replies go out. */
static void graceful_stop(struct srv *v)
{
	/* Often a little late, so that clients have committed what they
	 * are then owed. */
	if (inject("dropdrain"))
		sleep_ns(50 * 1000000ull);
	else if (rnd(&v->rng) % 2)
		sleep_ns(rnd_range(&v->rng, 1, 30) * 1000000ull);
	struct rec r = rec_make(R_SHUTDOWN, OP_SHUTDOWN, 0, v->a.inc);
	log_rec(v->log, &r);
	int rc = shmq_server_shutdown(v->s);
	if (rc != 0)
		drain_viol(v, rc, 1);
	v->draining = 1;
	uint64_t drained = 0, deadline = now_ns() + DRAIN_MS * 1000000ull;
	int done = 0;
	while (!inject("dropdrain") && now_ns() < deadline) {
		rc = serve_one(v, v->ndq ? 5 : CHAOS_SRV_RECV_MS);
		if (rc == -ESHUTDOWN) {
			done = 1;
			break;
		}
		drained += (uint64_t)rc;
		tend_deferred(v, rc == 0);
	}
	if (!done && !inject("dropdrain"))
		drain_viol(v, -ETIMEDOUT, 2); /* -ESHUTDOWN did not come */
	tend_deferred(v, 1);
	if (done) {
		/* Said once, it stays said; and a second shutdown is refused. */
		shmq_msg m;
		if ((rc = shmq_server_recv_view(v->s, &m, 0)) != -ESHUTDOWN)
			drain_viol(v, rc, 3);
		if ((rc = shmq_server_shutdown(v->s)) != -EALREADY)
			drain_viol(v, rc, 4);
	}
	r = rec_make(R_EXIT, OP_NONE, 0, v->a.inc);
	r.aux = (uint32_t)drained;
	log_rec(v->log, &r);
}

int server_main(int argc, char **argv)
{
	static struct srv v;
	struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: calls return -EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	unblock_term();
	parse_role_args(argc, argv, &v.a);
	v.rng = seed_mix(v.a.seed, 0x5e7e7 + v.a.inc);
	v.log = log_open(v.a.dir, "server.log");
	start(&v);
	while (!stop) {
		sample_rss(&v);
		int got = serve_one(&v, v.ndq ? 5 : CHAOS_SRV_RECV_MS);
		tend_deferred(&v, got == 0);
	}
	graceful_stop(&v);
	if (inject("leak"))
		return 0; /* gone without closing: the endpoint stays */
	int rc = shmq_server_close(v.s);
	close(v.log);
	return rc == 0 ? 0 : 4;
}
