/* SPDX-License-Identifier: MIT */
/*
 * The server role: receive requests (copying or zero-copy, at random), check
 * them, log each one, then reply (copying or zero-copy). The log record is
 * written before the reply, so a request a client saw answered is always in
 * the server's log. SIGTERM stops it gracefully.
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

struct srv {
	shmq_server *s;
	struct role_args a;
	int log;
	uint64_t rng;
	size_t max;
	uint64_t next_rss;
	uint64_t served;
	struct seen seen[CHAOS_SLOTS];
};

/* Self-test: one request in INJECT_EVERY gets the injected fault. */
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

static void reply(struct srv *v, shmq_client_id to, const struct msg_hdr *h)
{
	struct msg_hdr rh = *h;
	rh.len = h->rep_len;
	rh.req_sum = h->sum;
	int rc;
	int fault = v->served % INJECT_EVERY == 0;
	if (fault && inject("drop"))
		return;
	if (fault && inject("misroute")) {
		for (uint32_t i = 0; i < CHAOS_SLOTS; i++)
			if (i != to.slot && v->seen[i].used)
				to = (shmq_client_id){i, v->seen[i].gen};
	}
	uint64_t t0 = now_ns();
	if ((rnd(&v->rng) & 1) || (fault && inject("corrupt"))) {
		msg_fill(rep_buf, &rh, 1);
		if (fault && inject("corrupt"))
			rep_buf[rh.len - 1] ^= 0x20;
		rc = shmq_server_send(v->s, to, rep_buf, rh.len, CHAOS_CALL_MS);
	} else {
		void *p = NULL;
		rc = shmq_server_reserve(v->s, to, rh.len, &p, CHAOS_CALL_MS);
		if (rc == 0) {
			msg_fill(p, &rh, 1);
			rc = shmq_server_commit(v->s, rh.len);
		}
	}
	if (rc == 0) {
		log_slow(v, OP_SRV_SEND, rc, t0, CHAOS_CALL_MS);
	} else {
		/* The client will never see this reply: say so, for the
		 * checker's look at the gaps clients report. */
		struct rec r = rec_make(R_CALL, OP_SRV_SEND, h->cid, v->a.inc);
		r.rc = rc;
		r.seq = h->seq;
		r.val = h->inc;
		r.t0 = t0;
		r.dur_us = (uint32_t)((now_ns() - t0) / 1000);
		r.timeout_ms = CHAOS_CALL_MS;
		log_rec(v->log, &r);
		call_error(v, rc, to);
	}
}

/* Check, log, reply. The view (if any) is released before the reply: the
 * header is copied and the body is not needed any more. */
static void serve(struct srv *v, const void *data, size_t len, const shmq_msg *m, int view)
{
	struct msg_hdr h;
	int ok = msg_check(data, len, 0, &h) == 0 && h.rep_len >= MSG_MIN && h.rep_len <= v->max &&
		 h.cid < CHAOS_MAX_CLIENTS && h.flags == (m->flags & SHMQ_MSG_REQUEST);
	if (view) {
		shmq_msg mm = *m;
		shmq_server_release(v->s, &mm);
	}
	if (!ok) {
		viol(v, V_CORRUPT_REQ, m->from, len >= MSG_MIN ? &h : NULL, (int)len);
		return;
	}
	check_sender(v, m->from, &h);
	struct rec r = rec_make(R_PROC, (uint8_t)h.op, h.cid, v->a.inc);
	r.seq = h.seq;
	r.val = h.sum;
	r.rc = (int32_t)h.inc; /* the client's incarnation */
	v->served++;
	int fault = v->served % INJECT_EVERY == 0;
	if (!(fault && inject("unlogged")))
		log_rec(v->log, &r);
	if (fault && inject("dup"))
		log_rec(v->log, &r);
	reply(v, m->from, &h);
}

static void serve_one(struct srv *v)
{
	shmq_msg m;
	int view = rnd(&v->rng) & 1;
	uint64_t t0 = now_ns();
	ssize_t n;
	if (view) {
		n = shmq_server_recv_view(v->s, &m, CHAOS_SRV_RECV_MS);
		if (n == 0)
			n = (ssize_t)m.len;
	} else {
		n = shmq_server_recv(v->s, req_buf, sizeof(req_buf), &m, CHAOS_SRV_RECV_MS);
	}
	log_slow(v, OP_SRV_RECV, n < 0 ? (int)n : 0, t0, CHAOS_SRV_RECV_MS);
	if (n < 0) {
		call_error(v, (int)n, (shmq_client_id){0, 0});
		return;
	}
	serve(v, view ? m.data : req_buf, (size_t)n, &m, view);
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

int server_main(int argc, char **argv)
{
	static struct srv v;
	struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: calls return -EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	parse_role_args(argc, argv, &v.a);
	v.rng = seed_mix(v.a.seed, 0x5e7e7 + v.a.inc);
	v.log = log_open(v.a.dir, "server.log");
	start(&v);
	while (!stop) {
		sample_rss(&v);
		serve_one(&v);
	}
	struct rec r = rec_make(R_EXIT, OP_NONE, 0, v.a.inc);
	log_rec(v.log, &r);
	if (inject("leak"))
		return 0; /* gone without closing: the endpoint stays */
	int rc = shmq_server_close(v.s);
	close(v.log);
	return rc == 0 ? 0 : 4;
}
