/* SPDX-License-Identifier: MIT */
/*
 * runner.c - runs one case: forks a server and N clients, pins them to CPUs,
 * starts them together, drives the message loops, collects what they saw.
 *
 * A case goes through these phases; each ends with a FIN from every client,
 * which the server echoes once all have sent theirs, so no process is ever
 * in another phase than its peers:
 *   idle    (once per transport, one client) the client sleeps, then sends one
 *           message: the server's CPU use while it waited for it.
 *   stream  warm-up: W messages, enough to cycle the transport's buffer twice
 *           (no first-touch page fault later), then an ACK from the server;
 *           the clients meet at a barrier; each sends as fast as it can for
 *           the time budget, then FIN. Throughput = messages received by the
 *           server / (its time of the last FIN - the first timed send).
 *   ping    warm-up round trips, barrier, then timed round trips (each one
 *           timed alone with CLOCK_MONOTONIC) for the time budget, then FIN.
 * The parent samples /proc/stat around the case and the children report
 * their CPU time, so background load shows next to every result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SAMPLES_TOTAL (4u << 20)      /* round-trip samples, all clients */
#define SAMPLES_PER_CLIENT (2u << 20) /* at most, per client */
#define PING_WARMUP 200u
#define PING_WARMUP_QUICK 50u

/* What one process reports back, in memory shared with the parent. */
struct proc_res {
	int status; /* 0 ok, 1 failed (err says why) */
	char err[240];
	uint64_t cpu_ns; /* CPU time from the start signal to the end */
	uint64_t verified, full;
	/* clients */
	uint64_t lat_n, lat_t0, lat_t1;
	uint64_t st_t0, st_sent;
	/* server */
	uint64_t st_t1;
	uint64_t idle_cpu_ns, idle_wall_ns;
	uint64_t st_snap[BENCH_MAX_CLIENTS]; /* timed messages per client at the first FIN */
};

struct shared {
	_Atomic uint32_t bar_count;
	_Atomic uint32_t bar_gen;
	struct proc_res res[BENCH_MAX_CLIENTS + 1]; /* [0] server, [1 + i] client i */
	uint32_t samples[];
};

/* One process's view of the case. */
struct proc {
	const struct bench_opts *o;
	struct tp_case *c;
	const struct transport *t;
	void *ep;
	int role;
	int zc;
	size_t size;
	unsigned char *sbuf, *rbuf, *finbuf, *ackbuf;
	size_t curlen;
	struct proc_res *res;
	struct shared *sh;
	uint32_t *samples;
	size_t max_samples;
	const char *phase; /* for error messages */
};

static struct shared *shm_area;
static size_t shm_len;
static int cpu_list[1024];
static unsigned ncpu_list;

/* ---- small helpers ------------------------------------------------------- */

static uint64_t cputime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

/* The clients of a case meet here before each timed phase, so that they
 * start together (fairness is only measurable while all of them run). */
static void barrier(struct shared *sh, unsigned n)
{
	if (n <= 1)
		return;
	uint32_t gen = atomic_load_explicit(&sh->bar_gen, memory_order_acquire);
	if (atomic_fetch_add(&sh->bar_count, 1) + 1 == n) {
		atomic_store(&sh->bar_count, 0);
		atomic_fetch_add_explicit(&sh->bar_gen, 1, memory_order_release);
		futex(&sh->bar_gen, FUTEX_WAKE, INT_MAX, NULL);
		return;
	}
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	while (atomic_load_explicit(&sh->bar_gen, memory_order_acquire) == gen)
		futex(&sh->bar_gen, FUTEX_WAIT, gen, &ts);
}

static void __attribute__((format(printf, 2, 3), noreturn)) fail(struct proc *p,
								  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char who[32];
	if (p->role == ROLE_SERVER)
		snprintf(who, sizeof(who), "server");
	else
		snprintf(who, sizeof(who), "client %d", p->role);
	int n = snprintf(p->res->err, sizeof(p->res->err), "%s%s%s: ", who,
			 p->phase ? ", " : "", p->phase ? p->phase : "");
	vsnprintf(p->res->err + n, sizeof(p->res->err) - (size_t)n, fmt, ap);
	va_end(ap);
	p->res->status = 1;
	_exit(1);
}

static void tp_check(struct proc *p, const char *what, long rc)
{
	if (rc < 0)
		fail(p, "%s: %s", what, strerror((int)-rc));
}

/* ---- sending and receiving, copying or zero-copy -------------------------- */

static void xsend(struct proc *p, unsigned to, const void *buf)
{
	if (p->zc) {
		/* Zero-copy sender: the message is built in place. We copy it
		 * from the prepared buffer, moving the same bytes as a copying
		 * send, so only the receiver's copy is saved. */
		void *dst;
		tp_check(p, "reserve", p->t->reserve(p->ep, to, p->size, &dst));
		memcpy(dst, buf, p->size);
		tp_check(p, "commit", p->t->commit(p->ep, p->size));
	} else {
		tp_check(p, "send", p->t->send(p->ep, to, buf, p->size));
	}
}

/* The message stays valid until xdone(). */
static const unsigned char *xrecv(struct proc *p, unsigned *from)
{
	const void *d = p->rbuf;
	ssize_t n;
	*from = 0;
	if (p->zc)
		n = p->t->recv_view(p->ep, &d, from);
	else
		n = p->t->recv(p->ep, p->rbuf, p->size, from);
	tp_check(p, "recv", n);
	if (p->role == ROLE_SERVER && *from >= p->c->nclients)
		fail(p, "recv: message from unknown client %u", *from);
	p->curlen = (size_t)n;
	return d;
}

static void xdone(struct proc *p)
{
	if (p->zc)
		tp_check(p, "release", p->t->release(p->ep));
}

static void verify(struct proc *p, const unsigned char *d, uint32_t seq)
{
	char err[160];
	if (msg_check(d, p->curlen, p->size, seq, err, sizeof(err)) < 0)
		fail(p, "VERIFY: %s", err);
	p->res->verified++;
}

static void verify_full(struct proc *p, const unsigned char *d)
{
	char err[160];
	if (!msg_is_full(msg_seq(d)))
		return;
	if (msg_check_full(d, p->curlen, err, sizeof(err)) < 0)
		fail(p, "VERIFY: %s", err);
	p->res->full++;
}

/* Receive a control message (ACK, FIN, idle echo) the client waits for. */
static void expect(struct proc *p, uint32_t seq)
{
	unsigned from;
	const unsigned char *d = xrecv(p, &from);
	verify(p, d, seq);
	verify_full(p, d);
	xdone(p);
}

static uint32_t stream_warmup(const struct proc *p)
{
	size_t w = 2 * bench_ring_bytes(p->size) / p->size + 8;
	if (w < 64)
		w = 64;
	return (uint32_t)w;
}

/* ---- server --------------------------------------------------------------- */

/* Serve one phase until every client sent FIN, then echo the FINs.
 * echo: reply to every message (ping-pong); otherwise only ACK the
 * warm-up (streaming). */
static void serve_phase(struct proc *p, int echo, uint32_t warm)
{
	unsigned n = p->c->nclients, fins = 0;
	p->phase = echo ? "ping-pong" : "stream";
	uint32_t exp[BENCH_MAX_CLIENTS] = { 0 };
	unsigned char done[BENCH_MAX_CLIENTS] = { 0 };

	while (fins < n) {
		unsigned from;
		const unsigned char *d = xrecv(p, &from);
		uint32_t seq = msg_seq(d);
		if (seq == SEQ_FIN && !done[from]) {
			verify(p, d, SEQ_FIN);
			verify_full(p, d);
			xdone(p);
			if (!echo && fins == 0)
				for (unsigned i = 0; i < n; i++)
					p->res->st_snap[i] = exp[i] > warm ? exp[i] - warm : 0;
			if (!echo)
				p->res->st_t1 = bench_now_ns();
			done[from] = 1;
			fins++;
			continue;
		}
		if (done[from])
			fail(p, "VERIFY: client %u sent a message after its FIN", from);
		verify(p, d, exp[from]);
		if (echo)
			xsend(p, from, d);
		/* The full checksum after the reply: keeps it out of the
		 * round trip the client is timing. */
		verify_full(p, d);
		xdone(p);
		exp[from]++;
		if (!echo && exp[from] == warm)
			xsend(p, from, p->ackbuf);
	}
	/* Echo the FINs only now: no client starts the next phase while
	 * another is still in this one. */
	for (unsigned i = 0; i < n; i++)
		xsend(p, i, p->finbuf);
}

static void serve_idle(struct proc *p)
{
	unsigned from;
	p->phase = "idle";
	uint64_t c0 = cputime_ns(), w0 = bench_now_ns();
	const unsigned char *d = xrecv(p, &from);
	p->res->idle_wall_ns = bench_now_ns() - w0;
	p->res->idle_cpu_ns = cputime_ns() - c0;
	verify(p, d, 0);
	xsend(p, from, d);
	verify_full(p, d);
	xdone(p);
}

/* ---- clients -------------------------------------------------------------- */

static void client_idle(struct proc *p)
{
	struct timespec ts = { (time_t)(p->o->idle_ns / 1000000000ull),
			       (long)(p->o->idle_ns % 1000000000ull) };
	p->phase = "idle";
	/* Not synchronisation: this is the idle time being measured. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	msg_stamp(p->sbuf, p->size, 0);
	xsend(p, 0, p->sbuf);
	expect(p, 0);
}

/* --fault: break the stream once, on purpose, to show that the checks
 * catch it. Returns 1 when the message was dropped (not sent). */
static int inject_fault(struct proc *p, uint32_t seq)
{
	switch (p->o->fault) {
	case FAULT_DROP:
		msg_stamp(p->sbuf, p->size, seq + 1);
		return 1;
	case FAULT_DUP:
		xsend(p, 0, p->sbuf);
		return 0;
	case FAULT_REORDER:
		msg_stamp(p->sbuf, p->size, seq + 1);
		xsend(p, 0, p->sbuf);
		msg_stamp(p->sbuf, p->size, seq);
		xsend(p, 0, p->sbuf);
		msg_stamp(p->sbuf, p->size, seq + 2);
		return 1;
	case FAULT_CORRUPT:
		/* Mid-payload of a fully checksummed message: only the
		 * checksum can see it. */
		p->sbuf[p->size > 8 ? 8 + (p->size - 8) / 2 : 4] ^= 0x10;
		return 0;
	default:
		return 0;
	}
}

static void client_stream(struct proc *p)
{
	uint32_t warm = stream_warmup(p), seq;
	p->phase = "stream";
	for (seq = 0; seq < warm; seq++) {
		msg_stamp(p->sbuf, p->size, seq);
		xsend(p, 0, p->sbuf);
	}
	expect(p, SEQ_ACK);
	barrier(p->sh, p->c->nclients);

	uint64_t t0 = bench_now_ns(), end = t0 + p->o->phase_ns, last = t0;
	uint32_t fault_at = p->o->fault && p->role == 0 ? (warm + 64 + 63) & ~63u : 0;
	unsigned every = 1, since = 0;
	for (;;) {
		msg_stamp(p->sbuf, p->size, seq);
		if (seq == fault_at && inject_fault(p, seq))
			seq++;
		xsend(p, 0, p->sbuf);
		seq++;
		/* Read the clock less often as messages get cheaper. */
		if (++since < every)
			continue;
		since = 0;
		uint64_t t = bench_now_ns();
		if (t >= end || seq >= SEQ_ACK - 1)
			break;
		if (t - last < 20000 && every < 1024)
			every *= 2;
		last = t;
	}
	p->res->st_t0 = t0;
	p->res->st_sent = seq - warm;
	xsend(p, 0, p->finbuf);
	expect(p, SEQ_FIN);
}

static void round_trip(struct proc *p, uint32_t seq, uint64_t *rtt)
{
	unsigned from;
	msg_stamp(p->sbuf, p->size, seq);
	uint64_t a = bench_now_ns();
	xsend(p, 0, p->sbuf);
	const unsigned char *d = xrecv(p, &from);
	/* The reply counts as received once checked: a zero-copy view has to
	 * be read too (its first and last lines), as a copy reads it all. */
	verify(p, d, seq);
	uint64_t b = bench_now_ns();
	verify_full(p, d);
	xdone(p);
	*rtt = b - a;
}

static void client_ping(struct proc *p)
{
	unsigned warm = p->o->quick ? PING_WARMUP_QUICK : PING_WARMUP;
	uint32_t seq;
	uint64_t rtt;
	p->phase = "ping-pong";
	for (seq = 0; seq < warm; seq++)
		round_trip(p, seq, &rtt);
	barrier(p->sh, p->c->nclients);

	uint64_t t0 = bench_now_ns(), end = t0 + p->o->phase_ns;
	size_t n = 0;
	while (n < p->max_samples) {
		round_trip(p, seq++, &rtt);
		p->samples[n++] = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
		if (bench_now_ns() >= end)
			break;
	}
	p->res->lat_t1 = bench_now_ns();
	p->res->lat_t0 = t0;
	p->res->lat_n = n;
	xsend(p, 0, p->finbuf);
	expect(p, SEQ_FIN);
}

/* ---- processes ------------------------------------------------------------ */

static struct proc *self; /* for the alarm handler */

/* The case took too long: say where we were stuck, then die. Only plain
 * stores and _exit: async-signal-safe. */
static void on_alarm(int sig)
{
	(void)sig;
	struct proc *p = self;
	const char *parts[] = { p->role == ROLE_SERVER ? "server" : "client",
				", timed out in phase ", p->phase ? p->phase : "setup",
				" (a lost message, or a peer that stopped)" };
	size_t n = 0;
	for (unsigned i = 0; i < 4; i++)
		for (const char *c = parts[i]; *c && n < sizeof(p->res->err) - 1; c++)
			p->res->err[n++] = *c;
	p->res->err[n] = 0;
	p->res->status = 1;
	_exit(1);
}

static void child_init(struct proc *p, int cpu, unsigned timeout_s)
{
	signal(SIGPIPE, SIG_IGN); /* a dead peer: EPIPE, reported */
	self = p;
	signal(SIGALRM, on_alarm);
	alarm(timeout_s);
	pin(cpu);
	p->sbuf = bench_alloc(p->size);
	p->rbuf = bench_alloc(p->size);
	p->finbuf = bench_alloc(p->size);
	p->ackbuf = bench_alloc(p->size);
	if (!p->sbuf || !p->rbuf || !p->finbuf || !p->ackbuf)
		fail(p, "out of memory");
	msg_stamp(p->finbuf, p->size, SEQ_FIN);
	msg_stamp(p->ackbuf, p->size, SEQ_ACK);
	msg_stamp(p->sbuf, p->size, 1); /* the first stamp fills the payload */
}

static void signal_ready(int fd, char c)
{
	ssize_t w = write(fd, &c, 1);
	(void)w;
}

static void wait_go(int fd)
{
	char c;
	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

static void run_server(struct proc *p, int ready_fd, int go_fd, int with_idle)
{
	const struct transport *t = p->t;
	tp_check(p, "open", t->open(p->c, ROLE_SERVER, &p->ep));
	signal_ready(ready_fd, 'o');
	if (t->accept)
		tp_check(p, "accept", t->accept(p->ep));
	signal_ready(ready_fd, 'r');
	wait_go(go_fd);
	uint64_t c0 = cputime_ns();
	if (t->ref_server) {
		tp_check(p, "reference", t->ref_server(p->ep));
	} else {
		if (with_idle)
			serve_idle(p);
		if (t->caps & TP_TPUT)
			serve_phase(p, 0, stream_warmup(p));
		if (t->caps & TP_LAT)
			serve_phase(p, 1, 0);
	}
	p->res->cpu_ns = cputime_ns() - c0;
	p->phase = "close";
	t->close(p->ep);
	_exit(0);
}

static void run_client(struct proc *p, int ready_fd, int go_fd, int with_idle)
{
	const struct transport *t = p->t;
	/* Touch the sample area now: its page faults belong to no round trip. */
	memset(p->samples, 0, p->max_samples * sizeof(*p->samples));
	if (!t->ref_local)
		tp_check(p, "open", t->open(p->c, p->role, &p->ep));
	signal_ready(ready_fd, 'r');
	wait_go(go_fd);
	uint64_t c0 = cputime_ns();
	struct ref_run rr = { .budget_ns = p->o->phase_ns,
			      .warmup = p->o->quick ? PING_WARMUP_QUICK : PING_WARMUP,
			      .samples = p->samples,
			      .max_samples = p->max_samples };
	if (t->ref_local) {
		tp_check(p, "reference", t->ref_local(p->size, &rr));
		p->res->st_t0 = rr.t0;
		p->res->st_t1 = rr.t1;
		p->res->st_sent = rr.msgs;
	} else if (t->ref_client) {
		tp_check(p, "reference", t->ref_client(p->ep, &rr));
		p->res->lat_t0 = p->res->st_t0 = rr.t0;
		p->res->lat_t1 = p->res->st_t1 = rr.t1;
		p->res->lat_n = rr.nsamples;
		p->res->st_sent = rr.msgs;
	} else {
		if (with_idle)
			client_idle(p);
		if (t->caps & TP_TPUT)
			client_stream(p);
		if (t->caps & TP_LAT)
			client_ping(p);
	}
	p->res->cpu_ns = cputime_ns() - c0;
	if (!t->ref_local)
		t->close(p->ep);
	_exit(0);
}

/* ---- parent ------------------------------------------------------------------ */

int bench_runner_init(const struct bench_opts *o)
{
	shm_len = sizeof(struct shared) + (size_t)SAMPLES_TOTAL * sizeof(uint32_t);
	shm_area = bench_shared_alloc(shm_len);
	if (!shm_area)
		return -errno;
	cpu_set_t set;
	ncpu_list = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int i = 0; i < CPU_SETSIZE && ncpu_list < 1024; i++)
			if (CPU_ISSET(i, &set))
				cpu_list[ncpu_list++] = i;
	(void)o;
	return 0;
}

/* Client i's CPU: clients share the CPUs the server does not use, client 0
 * first on cpu_a. */
static int client_cpu(const struct bench_opts *o, unsigned i)
{
	if (o->cpu_a < 0)
		return -1;
	if (i == 0 || ncpu_list <= 2)
		return o->cpu_a;
	int others[1024];
	unsigned n = 0;
	others[n++] = o->cpu_a;
	for (unsigned k = 0; k < ncpu_list; k++)
		if (cpu_list[k] != o->cpu_a && cpu_list[k] != o->cpu_b)
			others[n++] = cpu_list[k];
	return others[i % n];
}

/* Wait until `want` bytes arrived on the ready pipe, or a child died. */
static int wait_ready(int fd, unsigned want, const pid_t *pids, unsigned npids)
{
	uint64_t deadline = bench_now_ns() + 30ull * 1000000000ull;
	while (want) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, 100);
		if (rc > 0) {
			char buf[64];
			ssize_t r = read(fd, buf, want < sizeof(buf) ? want : sizeof(buf));
			if (r > 0)
				want -= (unsigned)r;
			continue;
		}
		for (unsigned i = 0; i < npids; i++) {
			int st;
			if (waitpid(pids[i], &st, WNOHANG) == pids[i])
				return -ECHILD;
		}
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
	return 0;
}

static void kill_all(const pid_t *pids, const int *reaped, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0 && !reaped[i])
			kill(pids[i], SIGKILL);
}

/* Reap every child; once one fails, kill the others (they would wait for
 * it until their alarm). Returns 0 if all exited 0. */
static int reap_all(const pid_t *pids, int *status, unsigned n)
{
	int reaped[BENCH_MAX_CLIENTS + 1] = { 0 };
	int bad = 0;
	for (unsigned left = n; left;) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			reaped[i] = 1;
			status[i] = st;
			left--;
			if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !bad) {
				bad = 1;
				kill_all(pids, reaped, n);
			}
		}
	}
	return bad ? -1 : 0;
}

/* The first real error among the processes (not a kill of ours). */
static void describe_failure(struct case_result *r, const pid_t *pids, const int *status,
			     unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (shm_area->res[i].status) {
			snprintf(r->note, sizeof(r->note), "%s", shm_area->res[i].err);
			return;
		}
	for (unsigned i = 0; i < n; i++) {
		int st = status[i];
		if (pids[i] <= 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0))
			continue;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			continue;
		const char *who = i == 0 ? "server" : "client";
		if (WIFSIGNALED(st))
			snprintf(r->note, sizeof(r->note), "%s killed by signal %d (%s)%s", who,
				 WTERMSIG(st), strsignal(WTERMSIG(st)),
				 WTERMSIG(st) == SIGALRM ? ": the case timed out" : "");
		else
			snprintf(r->note, sizeof(r->note), "%s exited with status %d", who,
				 WEXITSTATUS(st));
		return;
	}
	snprintf(r->note, sizeof(r->note), "a process died");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct(const uint32_t *v, size_t n, double q)
{
	/* Nearest rank. */
	size_t k = (size_t)(q * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void latency_stats(struct case_result *r, unsigned nclients, size_t per)
{
	size_t total = 0;
	double rate_sum = 0, rmin = 1e300, rmax = 0;
	for (unsigned i = 0; i < nclients; i++) {
		const struct proc_res *c = &shm_area->res[1 + i];
		double dt = (double)(c->lat_t1 - c->lat_t0) / 1e9;
		double rate = dt > 0 ? (double)c->lat_n / dt : 0;
		rate_sum += rate;
		rmin = rate < rmin ? rate : rmin;
		rmax = rate > rmax ? rate : rmax;
		/* Pack every client's samples together. */
		memmove(shm_area->samples + total, shm_area->samples + (size_t)i * per,
			c->lat_n * sizeof(uint32_t));
		total += c->lat_n;
	}
	if (!total)
		return;
	uint32_t *s = shm_area->samples;
	qsort(s, total, sizeof(*s), cmp_u32);
	r->has_lat = 1;
	r->lat = (struct lat_stats){ .n = total,
				     .min = s[0],
				     .p50 = pct(s, total, 0.50),
				     .p90 = pct(s, total, 0.90),
				     .p99 = pct(s, total, 0.99),
				     .p999 = pct(s, total, 0.999),
				     .max = s[total - 1] };
	r->rt_per_s = rate_sum;
	double mean = rate_sum / nclients;
	r->fair_rt_min = mean > 0 ? rmin / mean : 0;
	r->fair_rt_max = mean > 0 ? rmax / mean : 0;
}

static void stream_stats(struct case_result *r, unsigned nclients)
{
	const struct proc_res *srv = &shm_area->res[0];
	uint64_t total = 0, t0 = UINT64_MAX;
	for (unsigned i = 0; i < nclients; i++) {
		const struct proc_res *c = &shm_area->res[1 + i];
		total += c->st_sent;
		t0 = c->st_t0 < t0 ? c->st_t0 : t0;
	}
	/* The server's last FIN ends the stream; a reference times it all
	 * in its client. */
	uint64_t t1 = srv->st_t1 ? srv->st_t1 : shm_area->res[1].st_t1;
	if (!total || t1 <= t0)
		return;
	double dt = (double)(t1 - t0) / 1e9;
	r->has_tput = 1;
	r->msgs_per_s = (double)total / dt;
	r->bytes_per_s = r->msgs_per_s * (double)r->size;
	double sum = 0, mn = 1e300, mx = 0;
	for (unsigned i = 0; i < nclients; i++) {
		double v = (double)srv->st_snap[i];
		sum += v;
		mn = v < mn ? v : mn;
		mx = v > mx ? v : mx;
	}
	double mean = sum / nclients;
	r->fair_min = mean > 0 ? mn / mean : 0;
	r->fair_max = mean > 0 ? mx / mean : 0;
}

static void load_stats(struct case_result *r, const struct cpu_times *a,
		       const struct cpu_times *b, uint64_t wall_ns, unsigned nprocs)
{
	uint64_t ours = 0;
	for (unsigned i = 0; i < nprocs; i++)
		ours += shm_area->res[i].cpu_ns;
	r->cpu_pct = wall_ns ? 100.0 * (double)ours / (double)wall_ns : 0;
	if (!a->ok || !b->ok || !wall_ns)
		return;
	double tick = 1e9 / (double)sysconf(_SC_CLK_TCK);
	double cap = (double)wall_ns * (double)bench_machine.ncpu;
	double busy = (double)(b->busy - a->busy) * tick - (double)ours;
	r->other_pct = busy > 0 ? 100.0 * busy / cap : 0;
	r->steal_pct = 100.0 * (double)(b->steal - a->steal) * tick / cap;
}

static void run_local_ref(const struct bench_opts *o, struct tp_case *c, struct case_result *r)
{
	int ready[2], go[2];
	if (pipe(ready) < 0 || pipe(go) < 0) {
		r->status = RES_FAIL;
		snprintf(r->note, sizeof(r->note), "pipe: %s", strerror(errno));
		return;
	}
	memset(shm_area, 0, sizeof(struct shared));
	pid_t pid = fork();
	if (pid == 0) {
		struct proc p = { .o = o, .c = c, .t = c->t, .role = 0, .size = c->size,
				  .res = &shm_area->res[1], .sh = shm_area,
				  .samples = shm_area->samples, .max_samples = 0 };
		child_init(&p, o->cpu_a, 60);
		run_client(&p, ready[1], go[0], 0);
	}
	pid_t pids[2] = { -1, pid };
	int status[2] = { 0, 0 };
	struct cpu_times a, b;
	if (wait_ready(ready[0], 1, pids + 1, 1) == 0) {
		cpu_times_read(&a);
		uint64_t w0 = bench_now_ns();
		signal_ready(go[1], 'g');
		int bad = reap_all(pids + 1, status + 1, 1);
		uint64_t w1 = bench_now_ns();
		cpu_times_read(&b);
		if (!bad) {
			const struct proc_res *res = &shm_area->res[1];
			double dt = (double)(res->st_t1 - res->st_t0) / 1e9;
			r->has_tput = dt > 0;
			r->msgs_per_s = dt > 0 ? (double)res->st_sent / dt : 0;
			r->bytes_per_s = r->msgs_per_s * (double)c->size;
			load_stats(r, &a, &b, w1 - w0, 2);
		}
	} else {
		kill(pid, SIGKILL);
		reap_all(pids + 1, status + 1, 1);
	}
	if (shm_area->res[1].status || !WIFEXITED(status[1]) || WEXITSTATUS(status[1])) {
		r->status = RES_FAIL;
		describe_failure(r, pids, status, 2);
	}
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static unsigned case_timeout_s(const struct bench_opts *o)
{
	return 30 + (unsigned)((o->idle_ns + 2 * o->phase_ns) * 4 / 1000000000ull);
}

static void run_procs(const struct bench_opts *o, struct tp_case *c, int with_idle,
		      struct case_result *r)
{
	unsigned n = c->nclients, nprocs = n + 1;
	pid_t pids[BENCH_MAX_CLIENTS + 1];
	int status[BENCH_MAX_CLIENTS + 1] = { 0 };
	int ready[2], go[2], rc;
	size_t per = SAMPLES_TOTAL / n;
	uint64_t want = o->phase_ns / 100 + 1024; /* a round trip takes >= 100 ns */
	per = per > SAMPLES_PER_CLIENT ? SAMPLES_PER_CLIENT : per;
	per = per > want ? (size_t)want : per;

	for (unsigned i = 0; i < nprocs; i++)
		pids[i] = -1;
	memset(shm_area, 0, sizeof(struct shared));
	if (pipe(ready) < 0 || pipe(go) < 0) {
		r->status = RES_FAIL;
		snprintf(r->note, sizeof(r->note), "pipe: %s", strerror(errno));
		return;
	}
	struct proc base = { .o = o, .c = c, .t = c->t, .size = c->size, .sh = shm_area,
			     .zc = c->t->reserve != NULL };
	unsigned tmo = case_timeout_s(o);

	pids[0] = fork();
	if (pids[0] == 0) {
		struct proc p = base;
		p.role = ROLE_SERVER;
		p.res = &shm_area->res[0];
		child_init(&p, o->cpu_b, tmo);
		run_server(&p, ready[1], go[0], with_idle);
	}
	rc = pids[0] < 0 ? -errno : wait_ready(ready[0], 1, pids, 1);
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		pids[1 + i] = fork();
		if (pids[1 + i] == 0) {
			struct proc p = base;
			p.role = (int)i;
			p.res = &shm_area->res[1 + i];
			p.samples = shm_area->samples + (size_t)i * per;
			p.max_samples = per;
			child_init(&p, client_cpu(o, i), tmo);
			run_client(&p, ready[1], go[0], with_idle);
		}
		if (pids[1 + i] < 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = wait_ready(ready[0], nprocs, pids, nprocs);

	struct cpu_times a, b;
	cpu_times_read(&a);
	uint64_t w0 = bench_now_ns();
	if (rc == 0) {
		char g[BENCH_MAX_CLIENTS + 1];
		memset(g, 'g', sizeof(g));
		if (write(go[1], g, nprocs) != (ssize_t)nprocs)
			rc = -EIO;
	}
	if (rc < 0) {
		int none[BENCH_MAX_CLIENTS + 1] = { 0 };
		kill_all(pids, none, nprocs);
	}
	int bad = reap_all(pids, status, nprocs);
	uint64_t w1 = bench_now_ns();
	cpu_times_read(&b);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);

	if (bad || rc < 0) {
		r->status = RES_FAIL;
		describe_failure(r, pids, status, nprocs);
		if (rc == -ETIMEDOUT && !shm_area->res[0].status)
			snprintf(r->note, sizeof(r->note), "processes not ready after 30 s");
		return;
	}
	for (unsigned i = 0; i < nprocs; i++) {
		r->verified += shm_area->res[i].verified;
		r->verified_full += shm_area->res[i].full;
	}
	if (c->t->caps & TP_LAT)
		latency_stats(r, n, per);
	if (c->t->caps & TP_TPUT)
		stream_stats(r, n);
	if (with_idle && shm_area->res[0].idle_wall_ns) {
		r->has_idle = 1;
		r->idle_cpu_pct = 100.0 * (double)shm_area->res[0].idle_cpu_ns /
				  (double)shm_area->res[0].idle_wall_ns;
	}
	load_stats(r, &a, &b, w1 - w0, nprocs);
}

void bench_run_case(const struct bench_opts *o, const struct transport *t, size_t size,
		    unsigned nclients, int with_idle, struct case_result *r)
{
	static unsigned counter;
	*r = (struct case_result){ .t = t, .size = size, .nclients = nclients,
				   .status = RES_OK };
	if (t->missing) {
		r->status = RES_SKIP;
		snprintf(r->note, sizeof(r->note), "%s", t->missing);
		return;
	}
	struct tp_case c = { .t = t, .size = size, .nclients = nclients };
	snprintf(c.tag, sizeof(c.tag), "shmqb-%d-%u", (int)getpid(), ++counter);
	char note[256] = "";
	if (t->setup) {
		int rc = t->setup(&c, note, sizeof(note));
		if (rc == -ENOTSUP) {
			r->status = RES_SKIP;
			snprintf(r->note, sizeof(r->note), "%s", note);
			return;
		}
		if (rc < 0) {
			r->status = RES_FAIL;
			snprintf(r->note, sizeof(r->note), "setup: %s%s%s", strerror(-rc),
				 note[0] ? ": " : "", note);
			return;
		}
	}
	fflush(NULL); /* nothing buffered may be written twice by a child */
	if (t->ref_local)
		run_local_ref(o, &c, r);
	else
		run_procs(o, &c, with_idle && nclients == 1 && (t->caps & TP_IDLE), r);
	if (r->status == RES_OK && note[0])
		snprintf(r->note, sizeof(r->note), "%s", note);
	if (t->teardown)
		t->teardown(&c);
}
