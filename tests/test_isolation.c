/* SPDX-License-Identifier: MIT */
/*
 * Isolation between clients, with real processes, on both backends.
 *
 * (A) A hostile client costs the honest clients nothing measurable.
 *     Three processes besides the test: a server (request/reply with
 *     shmq_server_reply), one honest client that times every round trip of
 *     shmq_client_request (after a warm-up; median, p90, p99), and a third
 *     process that is either
 *       - baseline: a benign busy loop on private memory (the same CPU
 *         pressure as the attacker, none of its writes), or
 *       - attack: a client that connects with shmq_client_connect (so it
 *         owns a slot and its lock) and then, in a tight loop, writes the
 *         whole header but its first cache line (state; srv_seq, random and
 *         incremented; conn_seq, incremented; the region table; the padding
 *         between) and its own slot: state, srv.waiting / srv.never_sleeps /
 *         srv.state, cli_ev, ring indices. It makes no system calls.
 *         Two flavours: "all" also writes random slot states (and so gets
 *         itself banned at once: its slot writes then no longer matter to
 *         the server), "served" keeps its slot state CONNECTED so that the
 *         server goes on serving it (checked) while it scribbles the rest.
 *     The server is pinned to one CPU, the honest client to the other, the
 *     third process floats. Server and honest client use spin_us = 0 (every
 *     wake-up is a futex wake: the case 0.1's attack broke) or the default
 *     spin; with the default spin a second, "gapped" workload puts 300 us
 *     between requests (more than the spin), so that the server is asleep
 *     whenever a request comes and each round trip needs the wake-up.
 *     Pass: attack median <= 2 x baseline median, and every reply
 *     byte-exact. The machine is shared (2 cores, other engineers' builds):
 *     medians, not means, and a (baseline, attacks) set is measured up to
 *     TRIES times; the bound holds if any one set meets it. Under sanitizers
 *     the timings are printed, not judged (the correctness checks still
 *     are). The server's CPU time during each measurement is printed too,
 *     not judged.
 *
 *     What 0.1 got wrong, and what the self-check re-creates. In 0.1 the
 *     server's doorbell was one struct event in the header, with a
 *     never_sleeps flag that every client read to decide whether to wake
 *     the server. Any client could set it: from then on no client woke the
 *     server, which found each request only when its 100 ms sleep slice ran
 *     out, so a 0.17 ms round trip became 100 ms for everyone. In 0.2 the
 *     flag is per client, in the server's part of that client's slot.
 *     The self-check (always run, a few round trips) sets the *honest*
 *     client's own srv.never_sleeps = 1 from the test process (which maps the
 *     whole segment) and asserts that the gapped round trip DOES degrade far
 *     beyond the 2 x bound (>= 20 ms, > 2 x baseline): the measurement sees
 *     the effect when it is there. With SHMQ_ISOLATION_SELFTEST=1 the attack
 *     phase itself is that poke (benign third process plus the poke, no
 *     hostile client): the pass criterion above must then fail the test.
 *     (Note: the hostile client maps the whole segment too and could write
 *     that flag in the honest client's slot just as well; SECURITY.md lists
 *     that as an accepted denial of service. What 0.2 claims, and part A
 *     checks, is that writing the header and one's *own* slot hurts no one.)
 *
 * (B) Banning or retiring a slot never invalidates a view or a reservation
 *     the application still holds. The test process is the server, slots = 2:
 *     client Y holds one slot (its reply ring full: it never reads), client X
 *     the other. The server takes a view of X's request (or holds a
 *     reservation in X's reply ring), then X goes away: it breaks the
 *     protocol (illegal slot state, conn_seq bumped) and exits or is
 *     SIGKILLed, or it is SIGKILLed without a word, or it closes. A new
 *     client Z tries to connect at once, and again after the server has run
 *     housekeeping several times (one blocking call of 300 ms: a reserve to
 *     Y's full ring while a view is held, a receive while a reservation is
 *     held). Z must get -EUSERS each time (if it does get a slot, it writes
 *     into it, so that aliasing shows in the held bytes), X's slot keeps its
 *     generation, the viewed or reserved bytes stay what they were, and the
 *     server has noticed X's departure (X is no longer among its clients).
 *     Then release returns 0 (commit returns -ENOTCONN and publishes
 *     nothing), and once housekeeping has had its turn X's slot is free, Z
 *     connects into it under a new generation and is served normally, with
 *     no trace of X's reply. Under ASan any access through a stale pointer
 *     to reused memory would also be reported; here the bytes themselves
 *     are compared.
 *     Last, the same with an X that writes SLOT_FREE into its own slot state
 *     (a value only the server may write) and exits, before or after the
 *     server banned it: Z must still not get the slot while the view is held.
 *
 * Every wait has a deadline; processes synchronise through pipes; waits for
 * housekeeping poll for its observable effect (slot state and generation in
 * the segment) with a deadline.
 */
#include "harness.h"
#include "proc.h"

#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "internal.h"
#include "raw.h"

#define RING	    4096u
#define A_SLOTS	    8u	  /* honest, hostile, and banned slots awaiting reuse */
#define IO_MS	    10000 /* any one library call; only a bug (or a stalled machine) nears it */
#define KID_S	    100	  /* a child's own alarm */
#define XOR	    0xa5u /* a reply is its request with every byte xor'ed */
#define RT_LEN	    64u	  /* part A request size */
#define GAP_US	    300u  /* think time of the gapped workload (> default spin) */
#define TRIES	    3	  /* measurement sets per workload, see (A) */
#define BOUND	    2.0	  /* attack median <= BOUND x baseline median */
#define SELF_N	    3u	  /* self-check round trips (each ~100 ms) */
#define SELF_MIN_NS 20000000ull /* the self-check must see at least 20 ms */
#define B_WINDOW_MS 300		/* one blocking call: housekeeping runs ~3 times */
#define B_REQ_LEN   512u
#define B_RESV_LEN  256u
#define REUSE_MS    3000 /* a freed slot is reusable within this */
#define MIN_MS	    150u /* a part A measurement lasts at least this */
#define MAX_MS	    600u /* and at most this, once it has MIN_SAMPLES */
#define MIN_SAMPLES 200u
#define MEASURE_CAP 400000u /* round trips one measurement records, at most */

static int n_b2b(void)
{
	return SANITIZED ? 300 : 2000;
}
static int n_gapped(void)
{
	return SANITIZED ? 100 : 300;
}

/* ---- raw access to the segment, as any process allowed to attach --------- */

static struct raw raw; /* the test's own mapping; children inherit it */

static struct seg_header *raw_hdr(struct raw *r)
{
	return (struct seg_header *)(void *)r->base;
}

static struct slot_ctl *raw_slot(struct raw *r, uint32_t i)
{
	CHECK(i < r->g.slots);
	return slot_ctl(r->base, &r->g, i);
}

/* ---- payloads ------------------------------------------------------------- */

static void xform(unsigned char *dst, const unsigned char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ XOR;
}

static int is_xform(const unsigned char *rep, const unsigned char *req, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i] != (unsigned char)(req[i] ^ XOR))
			return 0;
	return 1;
}

/* ---- CPUs ------------------------------------------------------------------ */

static int pin_ok;
static int pin_cpu[2];

static void pin_init(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	int k = 0;
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &set))
			pin_cpu[k++] = c;
	pin_ok = k == 2;
}

/* which: 0 server, 1 honest client; -1 float (the parent's mask). */
static void pin_self(int which)
{
	if (!pin_ok || which < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(pin_cpu[which], &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0);
}

/* ---- the shared board of part A --------------------------------------------- */

struct board {
	_Atomic uint32_t stop_server;
	_Atomic uint32_t stop_third;
	_Atomic uint64_t third_iters; /* loops of the third process */
	_Atomic uint64_t served;      /* requests the server answered */
	_Atomic uint64_t strays;      /* messages that were not requests */
	_Atomic uint32_t ask_clients; /* the test asks: how many do you serve? */
	_Atomic int32_t clients;      /* the server answers (shmq_server_clients) */
};

static struct board *B;

/* ---- puppets: client processes driven by command ---------------------------- */

enum {
	OP_CONNECT = 1, /* shmq_client_connect: rc, slot, gen */
	OP_SEND_REQ,	/* shmq_client_send_request(len bytes of seed) */
	OP_SEND,	/* shmq_client_send(len bytes of seed) */
	OP_BREAK,	/* write an illegal state into our slot, bump conn_seq */
	OP_FREE,	/* write SLOT_FREE into our slot's state (the server's to write) */
	OP_REQUEST,	/* shmq_client_request(len bytes of seed), reply checked */
	OP_CLEAN,	/* nothing late, held or queued for us */
	OP_MEASURE,	/* n timed round trips after warm, gap_us apart */
	OP_CLOSE,	/* shmq_client_close */
	OP_EXIT,	/* exit(0) */
};

struct cmd {
	uint32_t op, len;
	uint64_t seed;
	uint32_t n, warm, gap_us;
	uint32_t min_ms; /* OP_MEASURE: and go on for at least this long */
	uint32_t max_ms; /* OP_MEASURE: but stop after this long (>= MIN_SAMPLES) */
};

struct res {
	int64_t rc;
	uint32_t slot, gen;
	uint64_t med, p90, p99, max;  /* ns, OP_MEASURE */
	uint64_t srv_cpu_ms, wall_ms; /* filled in by the test: the server's CPU time */
};

struct puppet {
	pid_t pid;
	struct chan to, from;
};

static shmq_config pup_cfg;
static shmq_client *pup_c;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Round trips: warm, then at least n timed ones, and for at least min_ms
 * (so that the third process runs meanwhile: a busy-polling pair does 2000
 * in a millisecond), but no longer than max_ms once MIN_SAMPLES are in (a
 * loaded machine can make 2000 round trips take seconds). Any error, or a
 * reply not byte-exact, fails it. */
static struct res measure(const struct cmd *cmd)
{
	struct res r = {0};
	uint32_t cap = cmd->n > MEASURE_CAP ? cmd->n : MEASURE_CAP, n = 0;
	uint64_t *lat = calloc(cap, sizeof(*lat));
	unsigned char req[RT_LEN], rep[RT_LEN + 8];
	CHECK(lat);
	uint64_t until = 0, stop = 0;
	for (uint32_t i = 0; n < cap; i++) {
		if (i == cmd->warm) {
			uint64_t t = now_ns();
			until = t + (uint64_t)cmd->min_ms * 1000000ull;
			stop = cmd->max_ms ? t + (uint64_t)cmd->max_ms * 1000000ull : UINT64_MAX;
		}
		if (i > cmd->warm) {
			uint64_t t = now_ns();
			if (n >= cmd->n && t >= until)
				break;
			if (n >= MIN_SAMPLES && n < cmd->n && t >= stop)
				break;
		}
		fill_random(req, sizeof(req), cmd->seed + i);
		memcpy(req, &i, sizeof(i));
		/* Workload shaping, not synchronisation: a client that thinks
		 * between requests finds the server asleep. */
		if (cmd->gap_us)
			usleep(cmd->gap_us);
		uint64_t t0 = now_ns();
		ssize_t got = shmq_client_request(pup_c, req, sizeof(req), rep, sizeof(rep), IO_MS);
		uint64_t d = now_ns() - t0;
		if (got < 0) {
			fprintf(stderr, "honest client: request %u: %s\n", i,
				shmq_strerror((int)got));
			r.rc = got;
			break;
		}
		if (got != (ssize_t)sizeof(req) || !is_xform(rep, req, sizeof(req))) {
			fprintf(stderr, "honest client: reply %u not byte-exact (len %zd)\n", i,
				got);
			r.rc = -EBADMSG;
			break;
		}
		if (i >= cmd->warm)
			lat[n++] = d;
	}
	if (r.rc == 0 && n) {
		qsort(lat, n, sizeof(*lat), cmp_u64);
		r.med = lat[n / 2];
		r.p90 = lat[(uint64_t)n * 9 / 10];
		r.p99 = lat[(uint64_t)n * 99 / 100];
		r.max = lat[n - 1];
		r.slot = n; /* how many were timed */
	}
	free(lat);
	return r;
}

static struct res pup_exec(const struct cmd *cmd)
{
	struct res r = {0};
	unsigned char buf[RING], rep[RING];
	CHECK(cmd->len <= sizeof(buf));
	fill_random(buf, cmd->len, cmd->seed);
	switch (cmd->op) {
	case OP_CONNECT:
		r.rc = shmq_client_connect(&pup_c, &pup_cfg);
		if (r.rc == 0) {
			shmq_client_id id = shmq_client_self(pup_c);
			r.slot = id.slot;
			r.gen = id.gen;
		}
		break;
	case OP_SEND_REQ: {
		uint64_t id;
		r.rc = shmq_client_send_request(pup_c, buf, cmd->len, &id, IO_MS);
		break;
	}
	case OP_SEND:
		r.rc = shmq_client_send(pup_c, buf, cmd->len, IO_MS);
		break;
	case OP_BREAK: {
		struct slot_ctl *ctl = raw_slot(&raw, shmq_client_self(pup_c).slot);
		atomic_store(&ctl->state, 0x7e57bad0u); /* no SLOT_* value */
		atomic_fetch_add(&raw_hdr(&raw)->conn_seq, 1);
		break;
	}
	case OP_FREE:
		atomic_store(&raw_slot(&raw, shmq_client_self(pup_c).slot)->state, SLOT_FREE);
		break;
	case OP_REQUEST: {
		ssize_t n = shmq_client_request(pup_c, buf, cmd->len, rep, sizeof(rep), IO_MS);
		if (n < 0)
			r.rc = n;
		else if ((size_t)n != cmd->len || !is_xform(rep, buf, cmd->len))
			r.rc = -EBADMSG;
		break;
	}
	case OP_CLEAN: {
		shmq_client_stats st;
		r.rc = shmq_client_stat(pup_c, &st);
		if (r.rc == 0 && (st.late_replies || st.held || st.inflight))
			r.rc = -EBADMSG;
		if (r.rc == 0) {
			ssize_t n = shmq_client_recv(pup_c, rep, sizeof(rep), 0);
			r.rc = n == -EAGAIN ? 0 : n < 0 ? n : -EBADMSG;
		}
		break;
	}
	case OP_MEASURE:
		r = measure(cmd);
		break;
	case OP_CLOSE:
		r.rc = shmq_client_close(pup_c);
		pup_c = NULL;
		break;
	case OP_EXIT:
		exit(0);
	default:
		r.rc = -EINVAL;
	}
	return r;
}

/* A client process; cpu as pin_self. */
static struct puppet pup_start(const shmq_config *cfg, int cpu)
{
	struct puppet p = {.to = chan_new(), .from = chan_new()};
	p.pid = fork_kid(KID_S);
	if (p.pid == 0) {
		pin_self(cpu);
		pup_cfg = *cfg;
		close(p.to.wr);
		close(p.from.rd);
		for (;;) {
			struct cmd cmd;
			if (!get(p.to.rd, &cmd, sizeof(cmd)))
				_exit(1); /* the test is gone */
			struct res r = pup_exec(&cmd);
			CHECK(write(p.from.wr, &r, sizeof(r)) == (ssize_t)sizeof(r));
		}
	}
	close(p.to.rd);
	close(p.from.wr);
	return p;
}

static struct res pup_do(struct puppet *p, struct cmd cmd, unsigned timeout_ms)
{
	struct res r;
	CHECK(write(p->to.wr, &cmd, sizeof(cmd)) == (ssize_t)sizeof(cmd));
	chan_recv(p->from, &r, sizeof(r), timeout_ms);
	return r;
}

/* Send a command without waiting for its answer (the test serves it first). */
static void pup_post(struct puppet *p, struct cmd cmd)
{
	CHECK(write(p->to.wr, &cmd, sizeof(cmd)) == (ssize_t)sizeof(cmd));
}

static struct res pup_result(struct puppet *p, unsigned timeout_ms)
{
	struct res r;
	chan_recv(p->from, &r, sizeof(r), timeout_ms);
	return r;
}

static void pup_fds_close(struct puppet *p)
{
	close(p->to.wr);
	close(p->from.rd);
}

/* Tell it to exit, and wait. */
static void pup_exit(struct puppet *p)
{
	struct cmd cmd = {.op = OP_EXIT};
	CHECK(write(p->to.wr, &cmd, sizeof(cmd)) == (ssize_t)sizeof(cmd));
	reap_ok(p->pid, IO_MS);
	pup_fds_close(p);
}

static void pup_kill(struct puppet *p)
{
	CHECK(kill(p->pid, SIGKILL) == 0);
	reap_killed(p->pid);
	pup_fds_close(p);
}

/* ---- part A: server, third process ------------------------------------------ */

static shmq_config a_cfg;

static int a_server(void *arg)
{
	struct chan *ready = arg;
	pin_self(0);
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &a_cfg), 0);
	own_srv = s;
	char ok = 1;
	chan_send(*ready, &ok, 1);
	unsigned char buf[RING], rep[RING];
	while (!atomic_load(&B->stop_server)) {
		if (atomic_load(&B->ask_clients)) {
			atomic_store(&B->clients, shmq_server_clients(s, NULL, 0));
			atomic_store(&B->ask_clients, 0);
		}
		shmq_msg m;
		ssize_t n = shmq_server_recv(s, buf, sizeof(buf), &m, 100);
		if (n == -ETIMEDOUT || n == -EAGAIN)
			continue;
		CHECK(n >= 0);
		if (!(m.flags & SHMQ_MSG_REQUEST)) {
			atomic_fetch_add(&B->strays, 1);
			continue;
		}
		xform(rep, buf, (size_t)n);
		int rc = shmq_server_reply(s, &m, rep, (size_t)n, IO_MS);
		if (rc == -ENOTCONN)
			continue; /* its client left or was banned */
		CHECK_EQ(rc, 0);
		atomic_fetch_add(&B->served, 1);
	}
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	return 0;
}

enum { THIRD_BENIGN, THIRD_ALL, THIRD_SERVED };

static const char *third_name(int kind)
{
	return kind == THIRD_BENIGN ? "baseline"
	       : kind == THIRD_ALL  ? "attack/all"
				    : "attack/served";
}

/* Burn CPU on private memory, as hard as the hostile client does. */
static void benign_loop(struct chan ready)
{
	static uint64_t mem[8192];
	uint64_t s = 12345, it = 0;
	uint32_t who[2] = {UINT32_MAX, 0}; /* no slot */
	chan_send(ready, who, sizeof(who));
	while (!atomic_load_explicit(&B->stop_third, memory_order_relaxed)) {
		for (unsigned k = 0; k < 128; k++)
			mem[(it * 131 + k) & 8191] += xorshift64(&s);
		atomic_store_explicit(&B->third_iters, ++it, memory_order_relaxed);
	}
	CHECK(mem[0] != 1234567); /* keep the work */
}

/* Connect like any client, then scribble. Every store is atomic (relaxed):
 * the same bytes as plain stores, defined behaviour for the sanitizers. */
static void hostile_loop(struct chan ready, int kind)
{
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &a_cfg), 0);
	uint32_t slot = shmq_client_self(c).slot;
	struct raw r;
	raw_map(&r, &a_cfg); /* the attacker's own mapping of the segment */
	struct seg_header *h = raw_hdr(&r);
	struct slot_ctl *ctl = raw_slot(&r, slot);
	_Atomic uint64_t *words = (_Atomic uint64_t *)(void *)((unsigned char *)h + SHMQ_CACHELINE);
	size_t nwords = (sizeof(struct seg_header) - SHMQ_CACHELINE) / 8;
	_Atomic uint32_t *srv_seq = &h->srv_seq, *conn_seq = &h->conn_seq;
	uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), it = 0;
	uint32_t seq = 0, cseq = 0;
	uint32_t who[2] = {slot, shmq_client_self(c).gen};
	chan_send(ready, who, sizeof(who));
	while (!atomic_load_explicit(&B->stop_third, memory_order_relaxed)) {
		uint64_t x = xorshift64(&s);
		/* The header from line 1 on: state, padding, region table. */
		for (size_t k = 0; k < nwords; k++)
			atomic_store_explicit(&words[k], xorshift64(&s), memory_order_relaxed);
		/* srv_seq: random every other round, counting in between (the
		 * futex word the server sleeps on); conn_seq: always counting
		 * (a rescan hint the server rate-limits). */
		seq = (it & 1) ? seq + 1 : (uint32_t)(x >> 32);
		atomic_store_explicit(srv_seq, seq, memory_order_relaxed);
		atomic_store_explicit(conn_seq, ++cseq, memory_order_relaxed);
		/* Its own slot: the server's side of it, its doorbell, its state,
		 * its ring indices. */
		atomic_store_explicit(&ctl->srv.waiting, (uint32_t)(x & 1), memory_order_relaxed);
		atomic_store_explicit(&ctl->srv.never_sleeps, (x & 6) != 0, memory_order_relaxed);
		atomic_store_explicit(&ctl->srv.state, (uint32_t)(x >> 8), memory_order_relaxed);
		atomic_store_explicit(&ctl->cli_ev.seq, (uint32_t)(x >> 16), memory_order_relaxed);
		atomic_store_explicit(&ctl->cli_ev.waiting, (uint32_t)(x >> 3) & 1,
				      memory_order_relaxed);
		atomic_store_explicit(&ctl->cli_ev.never_sleeps, (uint32_t)(x >> 4) & 1,
				      memory_order_relaxed);
		uint32_t st = kind == THIRD_ALL ? (uint32_t)(x >> 40) % 6 : SLOT_CONNECTED;
		atomic_store_explicit(&ctl->state, st, memory_order_relaxed);
		if (x & 0x100) {
			atomic_fetch_add_explicit(&ctl->req.prod, 8, memory_order_relaxed);
			atomic_fetch_add_explicit(&ctl->rep.cons, 8, memory_order_relaxed);
		} else {
			atomic_store_explicit(&ctl->req.prod, x, memory_order_relaxed);
			atomic_store_explicit(&ctl->req.cons, x >> 7, memory_order_relaxed);
			atomic_store_explicit(&ctl->rep.prod, x >> 13, memory_order_relaxed);
			atomic_store_explicit(&ctl->rep.cons, x ^ it, memory_order_relaxed);
		}
		atomic_store_explicit(&B->third_iters, ++it, memory_order_relaxed);
	}
	/* Leave with the slot not looking free: a client that leaves its
	 * state at SLOT_FREE traps its successor (part B's last cases); here
	 * the next phase must find a slot the server has reset. The test waits
	 * for a generation after g0, and for SLOT_FREE, which only the server's
	 * reset can write once we are gone. */
	uint32_t g0 = atomic_load(&ctl->gen);
	atomic_store(&ctl->state, kind == THIRD_ALL ? 5u : (uint32_t)SLOT_CONNECTED);
	chan_send(ready, &g0, sizeof(g0));
	raw_unmap(&r);
	shmq_client_close(c);
}

struct third_arg {
	struct chan ready;
	int kind;
};

static int a_third(void *arg)
{
	struct third_arg *t = arg;
	if (t->kind == THIRD_BENIGN)
		benign_loop(t->ready);
	else
		hostile_loop(t->ready, t->kind);
	return 0;
}

/* ---- part A: measurements ----------------------------------------------------- */

struct a_run {
	pid_t srv;
	int posix;
	uint32_t spin;
	struct puppet honest;
	uint32_t honest_slot;
	struct seg_region saved_regions[SEG_MAX_REGIONS]; /* as the server wrote them */
	int selftest;
};

/* A process's CPU time (user + system), in ms: a diagnostic, not judged. */
static uint64_t cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000ull / (uint64_t)sysconf(_SC_CLK_TCK);
}

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static void print_res(const char *what, const struct res *r)
{
	printf("      %-15s median %8.1f us  p90 %8.1f us  p99 %8.1f us  max %9.1f us"
	       "  (%u; server CPU %llu of %llu ms)\n",
	       what, us(r->med), us(r->p90), us(r->p99), us(r->max), r->slot,
	       (unsigned long long)r->srv_cpu_ms, (unsigned long long)r->wall_ms);
}

/* The test process itself sets the honest client's srv.never_sleeps (the
 * server wrote 0 there: its spin is bounded) — what 0.1's shared flag let
 * any client do to everyone. */
static void poke_never_sleeps(struct a_run *run, uint32_t on)
{
	atomic_store(&raw_slot(&raw, run->honest_slot)->srv.never_sleeps, on);
}

/* How many clients the server serves now. Polls the board (the server
 * answers between two receives, 100 ms apart at most) with a deadline. */
static int a_server_clients(void)
{
	atomic_store(&B->clients, INT32_MIN);
	atomic_store(&B->ask_clients, 1);
	uint64_t end = now_ns() + (uint64_t)IO_MS * 1000000ull;
	while (atomic_load(&B->ask_clients)) {
		if (now_ns() > end) {
			fprintf(stderr, "the server did not answer in %d ms\n", IO_MS);
			exit(1);
		}
		kids_poll();
		usleep(1000); /* polling for the server's answer, with a deadline */
	}
	return atomic_load(&B->clients);
}

/* The honest client's round trips with a third process of the given kind
 * running (and, poke, the honest flag set). */
static struct res a_measure(struct a_run *run, int kind, int poke, uint32_t n, uint32_t gap,
			    uint32_t min_ms)
{
	struct third_arg t = {.ready = chan_new(), .kind = kind};
	atomic_store(&B->stop_third, 0);
	atomic_store(&B->third_iters, 0);
	pid_t pid = spawn(a_third, &t, KID_S);
	uint32_t who[2];
	chan_recv(t.ready, who, sizeof(who), IO_MS);
	if (poke)
		poke_never_sleeps(run, 1);
	uint64_t it0 = atomic_load(&B->third_iters);
	uint64_t cpu0 = cpu_ms(run->srv), t0 = now_ns();
	struct cmd cmd = {.op = OP_MEASURE,
			  .seed = now_ns(),
			  .n = n,
			  .warm = poke ? 0 : n / 10,
			  .gap_us = gap,
			  .min_ms = min_ms,
			  .max_ms = poke ? 0 : MAX_MS};
	struct res r = pup_do(&run->honest, cmd, 60000);
	uint64_t it1 = atomic_load(&B->third_iters);
	r.srv_cpu_ms = cpu_ms(run->srv) - cpu0;
	r.wall_ms = (now_ns() - t0) / 1000000ull;
	/* Each attack is what it says: "all" got itself banned, "served" is
	 * still served beside the honest client. */
	int clients = a_server_clients();
	if (poke)
		poke_never_sleeps(run, 0);
	atomic_store(&B->stop_third, 1);
	uint32_t g0 = 0;
	if (kind != THIRD_BENIGN)
		chan_recv(t.ready, &g0, sizeof(g0), IO_MS);
	kid_wait(pid, IO_MS);
	chan_close(&t.ready);
	/* Every honest request completed, byte-exact. */
	CHECK_EQ(r.rc, 0);
	CHECK_EQ(clients, kind == THIRD_SERVED ? 2 : 1);
	/* The third process ran meanwhile (the attack happened). */
	if (it1 - it0 < 10) {
		fprintf(stderr, "%s: the third process made only %llu rounds meanwhile\n",
			third_name(kind), (unsigned long long)(it1 - it0));
		exit(1);
	}
	if (kind != THIRD_BENIGN) {
		/* Undo the header damage (the region table and the state are
		 * written once, at creation) so that the next client can
		 * connect; leave srv_seq and conn_seq as they are. */
		struct seg_header *h = raw_hdr(&raw);
		atomic_store(&h->state, EP_READY);
		memcpy((void *)h->regions, run->saved_regions, sizeof(h->regions));
		/* And wait until the server has reset the hostile client's slot
		 * after it left (see hostile_loop). */
		struct slot_ctl *ctl = raw_slot(&raw, who[0]);
		uint64_t end = now_ns() + (uint64_t)IO_MS * 1000000ull;
		while (atomic_load(&ctl->gen) == g0 || atomic_load(&ctl->state) != SLOT_FREE) {
			if (now_ns() > end) {
				fprintf(stderr, "the hostile client's slot %u was not reset\n",
					who[0]);
				exit(1);
			}
			kids_poll();
			usleep(1000); /* polling for housekeeping's effect, with a deadline */
		}
	}
	return r;
}

static void a_workload(struct a_run *run, const char *wname, uint32_t n, uint32_t gap)
{
	printf("    %s (%u round trips, %u ms at least, %u ms at most once %u are in%s):\n", wname,
	       n, MIN_MS, MAX_MS, MIN_SAMPLES, gap ? "; 300 us apart" : "");
	for (int t = 1; t <= TRIES; t++) {
		struct res base = a_measure(run, THIRD_BENIGN, 0, n, gap, MIN_MS);
		struct res all, served;
		if (run->selftest) {
			/* The attack replaced by the poke: must fail below. */
			all = a_measure(run, THIRD_BENIGN, 1, 10, gap, 0);
			served = all;
		} else {
			all = a_measure(run, THIRD_ALL, 0, n, gap, MIN_MS);
			served = a_measure(run, THIRD_SERVED, 0, n, gap, MIN_MS);
		}
		print_res("baseline", &base);
		print_res(run->selftest ? "poke (selftest)" : "attack/all", &all);
		if (!run->selftest)
			print_res("attack/served", &served);
		double ra = (double)all.med / (double)base.med;
		double rs = (double)served.med / (double)base.med;
		printf("      try %d: median ratio all %.2f, served %.2f (bound %.1f)\n", t, ra, rs,
		       BOUND);
		if (SANITIZED) {
			printf("      (sanitized build: timings not judged)\n");
			return;
		}
		if (ra <= BOUND && rs <= BOUND)
			return;
		if (t == TRIES) {
			fprintf(
			    stderr,
			    "%s spin %u %s: %s slowed the honest client: "
			    "median %.1f us (all) / %.1f us (served) against %.1f us, %d tries\n",
			    run->posix ? "posix" : "sysv", run->spin, wname,
			    run->selftest ? "the poke (SHMQ_ISOLATION_SELFTEST: failing is right)"
					  : "the hostile client",
			    us(all.med), us(served.med), us(base.med), TRIES);
			exit(1);
		}
	}
}

/* The measurement sees the effect when it is there. */
static void a_selfcheck(struct a_run *run)
{
	struct res base = a_measure(run, THIRD_BENIGN, 0, 50, GAP_US, 50);
	struct res poked = a_measure(run, THIRD_BENIGN, 1, SELF_N, GAP_US, 0);
	struct res after = a_measure(run, THIRD_BENIGN, 0, 50, GAP_US, 50);
	printf("    self-check (honest srv.never_sleeps = 1 set by the test, gapped):\n");
	print_res("baseline", &base);
	print_res("poked", &poked);
	print_res("flag restored", &after);
	printf("      median ratio %.0f\n", (double)poked.med / (double)base.med);
	/* Far beyond the bound: every wake-up waited for the sleep slice. */
	CHECK(poked.med >= SELF_MIN_NS);
	CHECK((double)poked.med > BOUND * (double)base.med);
	CHECK((double)poked.med > BOUND * (double)after.med);
}

static void part_a(int posix, uint32_t spin, int n)
{
	struct a_run *run = calloc(1, sizeof(*run));
	CHECK(run);
	run->posix = posix;
	run->spin = spin;
	run->selftest = getenv("SHMQ_ISOLATION_SELFTEST") &&
			strcmp(getenv("SHMQ_ISOLATION_SELFTEST"), "1") == 0;
	a_cfg = test_config(n, posix);
	a_cfg.slots = A_SLOTS;
	a_cfg.ring_size = RING;
	a_cfg.spin_us = spin;
	ep_track(&a_cfg);
	printf("  A: %s, spin_us %u%s\n", posix ? "posix" : "sysv", spin,
	       pin_ok ? "" : " (not pinned: fewer than 2 CPUs)");

	memset(B, 0, sizeof(*B));
	struct chan ready = chan_new();
	pid_t srv = spawn(a_server, &ready, KID_S);
	run->srv = srv;
	char ok;
	chan_recv(ready, &ok, 1, IO_MS);
	chan_close(&ready);
	raw_map(&raw, &a_cfg);
	memcpy(run->saved_regions, raw_hdr(&raw)->regions, sizeof(run->saved_regions));

	run->honest = pup_start(&a_cfg, 1);
	struct res r = pup_do(&run->honest, (struct cmd){.op = OP_CONNECT}, IO_MS);
	CHECK_EQ(r.rc, 0);
	run->honest_slot = r.slot;

	if (!run->selftest)
		a_selfcheck(run);
	a_workload(run, "back to back", (uint32_t)n_b2b(), 0);
	/* With spin_us 0 every round trip already sleeps and wakes: the gap
	 * would only repeat the test above. */
	if (spin)
		a_workload(run, "gapped", (uint32_t)n_gapped(), GAP_US);

	r = pup_do(&run->honest, (struct cmd){.op = OP_CLOSE}, IO_MS);
	CHECK_EQ(r.rc, 0);
	pup_exit(&run->honest);
	CHECK_EQ(atomic_load(&B->strays), 0);
	atomic_store(&B->stop_server, 1);
	kid_wait(srv, IO_MS);
	raw_unmap(&raw);
	check_nothing_left(&a_cfg);
	free(run);
}

/* ---- part B --------------------------------------------------------------------- */

enum { HOLD_VIEW, HOLD_RESV };
enum { GONE_BAN_EXIT, GONE_BAN_KILL, GONE_KILL, GONE_CLOSE, GONE_FREE_EXIT, GONE_BAN_FREE };

static const char *gone_name(int g)
{
	static const char *n[] = {
	    "breaks the protocol and exits",
	    "breaks the protocol and is SIGKILLed",
	    "is SIGKILLed",
	    "closes",
	    "writes SLOT_FREE into its slot state and exits",
	    "is banned, then writes SLOT_FREE into its slot state and exits",
	};
	return n[g];
}

struct b_env {
	shmq_server *s;
	shmq_config cfg;
	struct puppet y;
	shmq_client_id yid;
	uint64_t seed;
};

/* A client that comes now must find no slot: -EUSERS. If it does get one,
 * it writes into it, so that a slot aliasing the held view shows. */
static void b_try_intruder(struct b_env *e, uint32_t x_slot)
{
	struct puppet z = pup_start(&e->cfg, -1);
	struct res r = pup_do(&z, (struct cmd){.op = OP_CONNECT}, IO_MS);
	if (r.rc == 0) {
		fprintf(stderr, "intruder got slot %u gen %u (X's slot is %u) while it is held\n",
			r.slot, r.gen, x_slot);
		pup_do(&z, (struct cmd){.op = OP_SEND, .len = B_REQ_LEN, .seed = 0x5a5a}, IO_MS);
	}
	pup_exit(&z);
	CHECK_EQ(r.rc, -EUSERS);
}

/* Drive the server (receives of 50 ms: housekeeping, retiring drained slots)
 * until slot i is free under a newer generation than gen. */
static void b_wait_free(struct b_env *e, uint32_t i, uint32_t gen)
{
	uint64_t end = now_ns() + (uint64_t)REUSE_MS * 1000000ull;
	struct slot_ctl *ctl = raw_slot(&raw, i);
	for (;;) {
		if (atomic_load(&ctl->state) == SLOT_FREE && atomic_load(&ctl->gen) != gen)
			return;
		if (now_ns() > end) {
			fprintf(stderr, "slot %u not free after %d ms (state %u, gen %u, was %u)\n",
				i, REUSE_MS, atomic_load(&ctl->state), atomic_load(&ctl->gen), gen);
			exit(1);
		}
		unsigned char buf[RING];
		shmq_msg m;
		ssize_t n = shmq_server_recv(e->s, buf, sizeof(buf), &m, 50);
		if (n != -ETIMEDOUT) {
			fprintf(stderr, "unexpected message or error while waiting: %zd\n", n);
			exit(1);
		}
	}
}

/* A new client Z takes the slot and is served normally, with nothing of X's
 * reaching it. */
static void b_reuse(struct b_env *e, uint32_t x_slot, uint32_t x_gen)
{
	struct puppet z = pup_start(&e->cfg, -1);
	struct res r = pup_do(&z, (struct cmd){.op = OP_CONNECT}, IO_MS);
	CHECK_EQ(r.rc, 0);
	CHECK_EQ(r.slot, x_slot);
	CHECK(r.gen != x_gen);
	uint32_t z_gen = r.gen;
	uint64_t seed = ++e->seed;
	pup_post(&z, (struct cmd){.op = OP_REQUEST, .len = 300, .seed = seed});
	unsigned char buf[RING], want[RING], rep[RING];
	shmq_msg m;
	ssize_t n = shmq_server_recv(e->s, buf, sizeof(buf), &m, IO_MS);
	CHECK_EQ(n, 300);
	CHECK_EQ(m.from.slot, x_slot);
	CHECK_EQ(m.from.gen, z_gen);
	CHECK_EQ(m.flags, SHMQ_MSG_REQUEST);
	fill_random(want, 300, seed);
	CHECK(memcmp(buf, want, 300) == 0);
	xform(rep, buf, 300);
	CHECK_EQ(shmq_server_reply(e->s, &m, rep, 300, IO_MS), 0);
	r = pup_result(&z, IO_MS);
	CHECK_EQ(r.rc, 0); /* the reply to its own request, byte-exact */
	r = pup_do(&z, (struct cmd){.op = OP_CLEAN}, IO_MS);
	CHECK_EQ(r.rc, 0); /* no late reply, nothing else queued */
	r = pup_do(&z, (struct cmd){.op = OP_CLOSE}, IO_MS);
	CHECK_EQ(r.rc, 0);
	pup_exit(&z);
	b_wait_free(e, x_slot, z_gen); /* ready for the next case */
}

/* A blocking call of B_WINDOW_MS, during which housekeeping runs ~3 times:
 * a reserve to Y's full reply ring (a view may be held meanwhile), or a
 * receive when nothing comes (a reservation may be held meanwhile). */
static void b_window(struct b_env *e, int hold)
{
	uint64_t t0 = now_ns();
	if (hold == HOLD_VIEW) {
		void *p;
		CHECK_EQ(shmq_server_reserve(e->s, e->yid, 1000, &p, B_WINDOW_MS), -ETIMEDOUT);
	} else {
		unsigned char buf[RING];
		shmq_msg m;
		CHECK_EQ(shmq_server_recv(e->s, buf, sizeof(buf), &m, B_WINDOW_MS), -ETIMEDOUT);
	}
	CHECK(now_ns() - t0 >= (uint64_t)B_WINDOW_MS * 1000000ull);
}

static void b_case(struct b_env *e, int hold, int gone)
{
	printf("    %s held while X %s\n", hold == HOLD_VIEW ? "view" : "reservation",
	       gone_name(gone));
	struct puppet x = pup_start(&e->cfg, -1);
	struct res r = pup_do(&x, (struct cmd){.op = OP_CONNECT}, IO_MS);
	CHECK_EQ(r.rc, 0);
	uint32_t xs = r.slot, xg = r.gen;
	CHECK(xs != e->yid.slot);
	CHECK_EQ(shmq_server_clients(e->s, NULL, 0), 2);

	uint64_t seed1 = ++e->seed, seed2 = ++e->seed;
	r = pup_do(&x, (struct cmd){.op = OP_SEND_REQ, .len = B_REQ_LEN, .seed = seed1}, IO_MS);
	CHECK_EQ(r.rc, 0);
	if (hold == HOLD_VIEW && gone == GONE_CLOSE) {
		/* A second request, still owed once X has gone. */
		r = pup_do(&x, (struct cmd){.op = OP_SEND_REQ, .len = B_REQ_LEN, .seed = seed2},
			   IO_MS);
		CHECK_EQ(r.rc, 0);
	}

	unsigned char want[RING], copy[RING], buf[RING];
	fill_random(want, B_REQ_LEN, seed1);
	shmq_msg m;
	const void *held = NULL; /* the view's or the reservation's bytes */
	size_t held_len = 0;
	if (hold == HOLD_VIEW) {
		CHECK_EQ(shmq_server_recv_view(e->s, &m, IO_MS), 0);
		held = m.data;
		held_len = m.len;
	} else {
		CHECK_EQ(shmq_server_recv(e->s, buf, sizeof(buf), &m, IO_MS), B_REQ_LEN);
		CHECK(memcmp(buf, want, B_REQ_LEN) == 0);
		void *p = NULL;
		CHECK_EQ(shmq_server_reserve_reply(e->s, &m, B_RESV_LEN, &p, IO_MS), 0);
		fill_random(p, B_RESV_LEN, ++e->seed);
		held = p;
		held_len = B_RESV_LEN;
	}
	CHECK_EQ(m.from.slot, xs);
	CHECK_EQ(m.from.gen, xg);
	CHECK_EQ(m.flags, SHMQ_MSG_REQUEST);
	CHECK_EQ(m.len, B_REQ_LEN);
	if (hold == HOLD_VIEW)
		CHECK(memcmp(m.data, want, B_REQ_LEN) == 0);
	memcpy(copy, held, held_len);
	shmq_msg m_copy = m;

	/* X goes. Then at once an intruder, before the server has had a
	 * chance to look (a slot that X left looking free must not be
	 * claimable while the server still counts it as X's). */
	switch (gone) {
	case GONE_BAN_EXIT:
		CHECK_EQ(pup_do(&x, (struct cmd){.op = OP_BREAK}, IO_MS).rc, 0);
		pup_exit(&x);
		break;
	case GONE_BAN_KILL:
		CHECK_EQ(pup_do(&x, (struct cmd){.op = OP_BREAK}, IO_MS).rc, 0);
		pup_kill(&x);
		break;
	case GONE_KILL:
		pup_kill(&x);
		break;
	case GONE_CLOSE:
		CHECK_EQ(pup_do(&x, (struct cmd){.op = OP_CLOSE}, IO_MS).rc, 0);
		pup_exit(&x);
		break;
	case GONE_FREE_EXIT:
		CHECK_EQ(pup_do(&x, (struct cmd){.op = OP_FREE}, IO_MS).rc, 0);
		pup_exit(&x);
		break;
	case GONE_BAN_FREE:
		CHECK_EQ(pup_do(&x, (struct cmd){.op = OP_BREAK}, IO_MS).rc, 0);
		b_window(e, hold);
		CHECK_EQ(atomic_load(&raw_slot(&raw, xs)->state), SLOT_BANNED); /* it was banned */
		CHECK_EQ(pup_do(&x, (struct cmd){.op = OP_FREE}, IO_MS).rc, 0);
		pup_exit(&x);
		break;
	}
	b_try_intruder(e, xs);
	CHECK(memcmp(held, copy, held_len) == 0);

	/* Housekeeping, several times, while the hold lasts; then another
	 * intruder. */
	b_window(e, hold);
	b_try_intruder(e, xs);
	CHECK(memcmp(held, copy, held_len) == 0);

	/* The server did notice that X went, and still did not reuse its slot. */
	struct slot_ctl *ctl = raw_slot(&raw, xs);
	CHECK_EQ(shmq_server_clients(e->s, NULL, 0), 1);
	CHECK_EQ(atomic_load(&ctl->gen), xg);
	if (gone == GONE_BAN_EXIT || gone == GONE_BAN_KILL)
		CHECK_EQ(atomic_load(&ctl->state), SLOT_BANNED);
	CHECK(memcmp(held, copy, held_len) == 0);
	CHECK(m.data == m_copy.data && m.len == m_copy.len);

	if (hold == HOLD_VIEW) {
		CHECK_EQ(shmq_server_release(e->s, &m), 0);
		if (gone == GONE_CLOSE) {
			/* What X sent before it left is still served; the
			 * answer has nowhere to go. */
			fill_random(want, B_REQ_LEN, seed2);
			CHECK_EQ(shmq_server_recv(e->s, buf, sizeof(buf), &m, IO_MS), B_REQ_LEN);
			CHECK_EQ(m.from.slot, xs);
			CHECK_EQ(m.from.gen, xg);
			CHECK(memcmp(buf, want, B_REQ_LEN) == 0);
			CHECK_EQ(shmq_server_reply(e->s, &m, buf, 8, IO_MS), -ENOTCONN);
		}
	} else {
		CHECK_EQ(shmq_server_commit(e->s, B_RESV_LEN), -ENOTCONN);
		CHECK_EQ(shmq_server_commit(e->s, B_RESV_LEN), -EINVAL); /* it was closed */
		CHECK_EQ(atomic_load(&ctl->rep.prod), 0);		 /* nothing published */
	}
	b_wait_free(e, xs, xg);
	b_reuse(e, xs, xg);
}

struct b_spec {
	int hold, gone;
};

static void part_b(int posix, int n, const struct b_spec *cases, size_t ncases)
{
	struct b_env e = {.seed = 1000};
	e.cfg = test_config(n, posix);
	e.cfg.slots = 2;
	e.cfg.ring_size = RING;
	ep_track(&e.cfg);
	CHECK_EQ(shmq_server_create(&e.s, &e.cfg), 0);
	own_srv = e.s;
	raw_map(&raw, &e.cfg);

	e.y = pup_start(&e.cfg, -1);
	struct res r = pup_do(&e.y, (struct cmd){.op = OP_CONNECT}, IO_MS);
	CHECK_EQ(r.rc, 0);
	e.yid = (shmq_client_id){.slot = r.slot, .gen = r.gen};
	CHECK_EQ(shmq_server_clients(e.s, NULL, 0), 1);
	/* Fill Y's reply ring: Y never reads it. */
	unsigned char buf[1000] = {0};
	int pushed = 0, rc;
	while ((rc = shmq_server_send(e.s, e.yid, buf, sizeof(buf), 0)) == 0)
		pushed++;
	CHECK_EQ(rc, -EAGAIN);
	CHECK(pushed >= 1);

	printf("  B: %s\n", posix ? "posix" : "sysv");
	for (size_t k = 0; k < ncases; k++)
		b_case(&e, cases[k].hold, cases[k].gone);

	CHECK_EQ(pup_do(&e.y, (struct cmd){.op = OP_CLOSE}, IO_MS).rc, 0);
	pup_exit(&e.y);
	raw_unmap(&raw);
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(e.s), 0);
	check_nothing_left(&e.cfg);
}

int main(void)
{
	setup(110);
	setvbuf(stdout, NULL, _IOLBF, 0);
	pin_init();
	B = mmap(NULL, sizeof(*B), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(B != MAP_FAILED);
	uint64_t t0 = now_ns();
	for (int posix = 0; posix < 2; posix++) {
		part_a(posix, 0, 0);
		part_a(posix, SHMQ_DEFAULT_SPIN_US, 1);
	}
	printf("  part A: %.1f s\n", (double)(now_ns() - t0) / 1e9);
	t0 = now_ns();
	static const struct b_spec leaves[] = {
	    {HOLD_VIEW, GONE_BAN_EXIT}, {HOLD_VIEW, GONE_KILL}, {HOLD_VIEW, GONE_CLOSE},
	    {HOLD_RESV, GONE_BAN_KILL}, {HOLD_RESV, GONE_KILL}, {HOLD_RESV, GONE_CLOSE},
	};
	/* A client that leaves its slot state at SLOT_FREE (only the server
	 * may write that) must not hand the slot to a newcomer behind the
	 * server's back. Last, so that a failure here leaves the rest shown. */
	static const struct b_spec frees[] = {
	    {HOLD_VIEW, GONE_FREE_EXIT},
	    {HOLD_VIEW, GONE_BAN_FREE},
	};
	for (int posix = 0; posix < 2; posix++)
		part_b(posix, 3, leaves, sizeof(leaves) / sizeof(leaves[0]));
	printf("  part B: %.1f s\n", (double)(now_ns() - t0) / 1e9);
	for (int posix = 0; posix < 2; posix++)
		part_b(posix, 2, frees, sizeof(frees) / sizeof(frees[0]));
	passed = 1;
	printf("PASS\n");
	return 0;
}
