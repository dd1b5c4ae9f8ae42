/* SPDX-License-Identifier: MIT */
/*
 * Graceful shutdown and linger, with real processes, on both backends.
 *
 * (1) Exact drain: 8 clients commit 2,000 messages each into rings large
 *     enough to hold them, and say so; only then does the server call
 *     shmq_server_shutdown. It must still receive all 16,000, in order and
 *     byte-exact, then -ESHUTDOWN; the clients' shmq_client_flush returns 0;
 *     a send after the decision gets -EPIPE; a new client is refused.
 * (2) The tutorial's race through the library: 8 clients stream as fast as
 *     they can while a 9th sends "exit" at a random moment; the server then
 *     shuts down and drains. For every client, what the server received is
 *     an in-order prefix of what it sent, and all of it if the client's
 *     flush returned 0: no client is ever told its messages were taken when
 *     they were not. (0.1 dropped up to 900 queued lines here.)
 * (4) A lying client cannot hold the drain: one that publishes a request
 *     ring index past what it wrote is disconnected, and the honest client's
 *     messages are still all received, then -ESHUTDOWN, promptly.
 * (3) Flush's other answers: nothing sent (0 at once), server not reading
 *     (-EAGAIN with timeout 0, -ETIMEDOUT), server stopped by SIGSTOP then
 *     resumed (0), server closed without draining (-EPIPE), server killed
 *     with messages queued (-EPIPE within 1 s). A request taken during the
 *     drain is still answered.
 */
#include "harness.h"
#include "proc.h"

#include "internal.h"

#define NCLI	  8
#define PER_CLI	  2000
#define IO_MS	  10000
#define MAX_LEN	  48
#define RING_BIG  (256u * 1024) /* holds PER_CLI records of MAX_LEN */

struct rec_msg {
	uint32_t cid;
	uint32_t seq;
};

/* Message seq of client cid: a header, then bytes that depend on both. */
static size_t make_msg(unsigned char *buf, uint32_t cid, uint32_t seq)
{
	size_t len = sizeof(struct rec_msg) + (cid * 7 + seq) % (MAX_LEN - 8 + 1);
	struct rec_msg h = {cid, seq};
	memcpy(buf, &h, sizeof(h));
	for (size_t i = sizeof(h); i < len; i++)
		buf[i] = (unsigned char)(cid * 31 + seq * 17 + i);
	return len;
}

/* The server's side of the check: message from cid must be its next. */
static void take(uint32_t *next, const void *data, size_t len, uint32_t ncli)
{
	unsigned char want[MAX_LEN];
	struct rec_msg h;
	CHECK(len >= sizeof(h));
	memcpy(&h, data, sizeof(h));
	CHECK(h.cid < ncli);
	CHECK_EQ(h.seq, next[h.cid]); /* in order, nothing skipped, nothing twice */
	size_t wl = make_msg(want, h.cid, h.seq);
	CHECK_EQ(len, wl);
	CHECK(memcmp(data, want, len) == 0);
	next[h.cid]++;
}

/* ---- (1) exact drain ------------------------------------------------------ */

struct drain {
	shmq_config cfg;
	struct chan ready; /* client -> server: cid, all committed */
	struct chan go;    /* server -> clients: shut down (one byte each) */
	struct chan done;  /* client -> server: flush rc, late send rc */
	uint32_t cid;
};

static int drain_client(void *arg)
{
	struct drain *d = arg;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &d->cfg), 0);
	unsigned char buf[MAX_LEN];
	for (uint32_t seq = 0; seq < PER_CLI; seq++) {
		size_t len = make_msg(buf, d->cid, seq);
		/* Timeout 0: the ring holds them all, nothing may block. */
		CHECK_EQ(shmq_client_send(c, buf, len, 0), 0);
	}
	chan_send(d->ready, &d->cid, sizeof(d->cid));
	char go;
	chan_recv(d->go, &go, 1, IO_MS);
	int rc[2];
	rc[0] = shmq_client_flush(c, IO_MS);
	rc[1] = shmq_client_send(c, buf, 8, 0); /* after the decision to stop */
	chan_send(d->done, rc, sizeof(rc));
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

static int refused_client(void *arg)
{
	const shmq_config *cfg = arg;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, cfg), -ESHUTDOWN);
	return 0;
}

static void test_exact_drain(int posix)
{
	static struct drain d;
	d.cfg = test_config(0, posix);
	d.cfg.ring_size = RING_BIG;
	d.cfg.slots = NCLI;
	d.ready = chan_new();
	d.go = chan_new();
	d.done = chan_new();
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &d.cfg), 0);
	own_srv = s;
	pid_t kid[NCLI];
	for (uint32_t i = 0; i < NCLI; i++) {
		d.cid = i;
		kid[i] = spawn(drain_client, &d, 60);
	}
	for (uint32_t i = 0; i < NCLI; i++) {
		uint32_t cid;
		chan_recv(d.ready, &cid, sizeof(cid), IO_MS);
	}
	/* Every message is committed, none received: now decide to stop. */
	CHECK_EQ(shmq_server_shutdown(s), 0);
	CHECK_EQ(shmq_server_shutdown(s), -EALREADY);
	for (uint32_t i = 0; i < NCLI; i++)
		chan_send(d.go, "g", 1);
	pid_t late = spawn(refused_client, &d.cfg, 30);
	kid_wait(late, IO_MS);

	uint32_t next[NCLI] = {0};
	uint32_t total = 0;
	for (;;) {
		shmq_msg m;
		int rc = shmq_server_recv_view(s, &m, IO_MS);
		if (rc == -ESHUTDOWN)
			break;
		CHECK_EQ(rc, 0);
		take(next, m.data, m.len, NCLI);
		CHECK_EQ(shmq_server_release(s, &m), 0);
		total++;
	}
	CHECK_EQ(total, NCLI * PER_CLI);
	for (uint32_t i = 0; i < NCLI; i++)
		CHECK_EQ(next[i], PER_CLI);
	/* Drained stays drained, and says so at once. */
	uint64_t t0 = now_ns();
	CHECK_EQ(shmq_server_recv(s, NULL, 0, NULL, 5000), -ESHUTDOWN);
	CHECK(now_ns() - t0 < 1000000000ull);
	for (uint32_t i = 0; i < NCLI; i++) {
		int rc[2];
		chan_recv(d.done, rc, sizeof(rc), IO_MS);
		CHECK_EQ(rc[0], 0);      /* flush: everything was taken */
		CHECK_EQ(rc[1], -EPIPE); /* no new messages once stopping */
	}
	for (uint32_t i = 0; i < NCLI; i++)
		kid_wait(kid[i], IO_MS);
	/* Nothing was sent after the decision: nothing more to receive. */
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing_left(&d.cfg);
	chan_close(&d.ready);
	chan_close(&d.go);
	chan_close(&d.done);
	printf("%s: %u messages committed before shutdown, all %u received after it; "
	       "flush 0 and late send -EPIPE for all %d clients\n",
	       posix ? "posix" : "sysv", NCLI * PER_CLI, total, NCLI);
}

/* ---- (2) exit overtakes the streams --------------------------------------- */

struct race {
	shmq_config cfg;
	struct chan report; /* client -> server: struct race_rep */
	struct chan hello;  /* client -> server: connected */
	uint32_t cid;
	uint32_t exit_after; /* the exit client: messages to wait for first */
};

struct race_rep {
	uint32_t cid;
	uint32_t sent; /* sends that returned 0 */
	int32_t send_rc;
	int32_t flush_rc;
};

static int race_client(void *arg)
{
	struct race *r = arg;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &r->cfg), 0);
	chan_send(r->hello, "h", 1);
	unsigned char buf[MAX_LEN];
	struct race_rep rep = {.cid = r->cid};
	for (uint32_t seq = 0; seq < PER_CLI; seq++) {
		size_t len = make_msg(buf, r->cid, seq);
		rep.send_rc = shmq_client_send(c, buf, len, IO_MS);
		if (rep.send_rc < 0)
			break;
		rep.sent++;
	}
	CHECK(rep.send_rc == 0 || rep.send_rc == -EPIPE);
	rep.flush_rc = shmq_client_flush(c, IO_MS);
	CHECK(rep.flush_rc == 0 || rep.flush_rc == -EPIPE);
	chan_send(r->report, &rep, sizeof(rep));
	shmq_client_close(c);
	return 0;
}

static int exit_client(void *arg)
{
	struct race *r = arg;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &r->cfg), 0);
	/* Let the streams get going (the server tells us how far). */
	uint32_t seen;
	chan_recv(r->report, &seen, sizeof(seen), IO_MS);
	CHECK_EQ(shmq_client_send(c, "exit", 4, IO_MS), 0);
	CHECK_EQ(shmq_client_flush(c, IO_MS), 0); /* the exit itself is taken */
	shmq_client_close(c);
	return 0;
}

static void test_race(int posix, uint64_t *seed, int rounds)
{
	uint64_t received = 0, flushed_ok = 0, cut = 0;
	for (int round = 0; round < rounds; round++) {
		static struct race r, rx;
		r.cfg = test_config(1, posix);
		r.cfg.slots = NCLI + 1;
		r.cfg.ring_size = 4096; /* small: streams block, exit overtakes */
		r.report = chan_new();
		r.hello = chan_new();
		rx = r;
		rx.report = chan_new();
		shmq_server *s;
		CHECK_EQ(shmq_server_create(&s, &r.cfg), 0);
		own_srv = s;
		pid_t kid[NCLI + 1];
		for (uint32_t i = 0; i < NCLI; i++) {
			r.cid = i;
			kid[i] = spawn(race_client, &r, 60);
		}
		kid[NCLI] = spawn(exit_client, &rx, 60);
		uint32_t exit_after = (uint32_t)(xorshift64(seed) % (NCLI * PER_CLI / 2));

		/* All connected before 'exit' may come: a client refused at
		 * connect has sent nothing to lose. */
		for (uint32_t i = 0; i < NCLI; i++) {
			char h;
			chan_recv(r.hello, &h, 1, IO_MS);
		}
		uint32_t next[NCLI] = {0}, got = 0;
		int stopping = 0, told = 0;
		for (;;) {
			if (!told && got >= exit_after) {
				chan_send(rx.report, &got, sizeof(got));
				told = 1;
			}
			shmq_msg m;
			int rc = shmq_server_recv_view(s, &m, IO_MS);
			if (rc == -ESHUTDOWN)
				break;
			CHECK_EQ(rc, 0);
			if (m.len == 4 && memcmp(m.data, "exit", 4) == 0) {
				CHECK(!stopping);
				CHECK_EQ(shmq_server_release(s, &m), 0);
				CHECK_EQ(shmq_server_shutdown(s), 0);
				stopping = 1;
				continue;
			}
			take(next, m.data, m.len, NCLI);
			CHECK_EQ(shmq_server_release(s, &m), 0);
			got++;
		}
		CHECK(stopping);
		CHECK(told);
		own_srv = NULL;
		CHECK_EQ(shmq_server_close(s), 0);
		for (uint32_t i = 0; i < NCLI; i++) {
			struct race_rep rep;
			chan_recv(r.report, &rep, sizeof(rep), IO_MS);
			CHECK(rep.cid < NCLI);
			/* What the server got is a prefix of what was sent... */
			CHECK(next[rep.cid] <= rep.sent);
			/* ...and all of it, whenever the client was told so. */
			if (rep.flush_rc == 0) {
				CHECK_EQ(next[rep.cid], rep.sent);
				flushed_ok++;
			}
			if (rep.sent < PER_CLI)
				cut++;
		}
		for (uint32_t i = 0; i <= NCLI; i++)
			kid_wait(kid[i], IO_MS);
		check_nothing_left(&r.cfg);
		chan_close(&r.report);
		chan_close(&r.hello);
		chan_close(&rx.report);
		received += got;
	}
	printf("%s: %d rounds of %d streams overtaken by 'exit': %llu messages received, "
	       "%llu clients told flushed (all verified), %llu streams cut by the stop\n",
	       posix ? "posix" : "sysv", rounds, NCLI, (unsigned long long)received,
	       (unsigned long long)flushed_ok, (unsigned long long)cut);
}

/* ---- (3) flush's other answers -------------------------------------------- */

enum { F_IDLE, F_STOPPED, F_CLOSE, F_KILL };

struct fl {
	shmq_config cfg;
	struct chan to_srv, to_cli;
};

/* A server process that obeys one-byte orders from the test. */
static int flush_server(void *arg)
{
	struct fl *f = arg;
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &f->cfg), 0);
	own_srv = s;
	chan_send(f->to_cli, "u", 1);
	for (;;) {
		char op;
		chan_recv(f->to_srv, &op, 1, IO_MS);
		if (op == 'r') { /* receive everything there is, answer requests */
			shmq_msg m;
			unsigned char buf[MAX_LEN];
			ssize_t n;
			while ((n = shmq_server_recv(s, buf, sizeof(buf), &m, 0)) >= 0)
				if (m.flags & SHMQ_MSG_REQUEST)
					CHECK_EQ(shmq_server_reply(s, &m, buf, (size_t)n, IO_MS), 0);
			CHECK_EQ(n, -EAGAIN);
		} else if (op == 'd') { /* shut down, drain, answer, close */
			CHECK_EQ(shmq_server_shutdown(s), 0);
			shmq_msg m;
			unsigned char buf[MAX_LEN];
			ssize_t n;
			while ((n = shmq_server_recv(s, buf, sizeof(buf), &m, IO_MS)) >= 0)
				if (m.flags & SHMQ_MSG_REQUEST)
					CHECK_EQ(shmq_server_reply(s, &m, buf, (size_t)n, IO_MS), 0);
			CHECK_EQ(n, -ESHUTDOWN);
			chan_send(f->to_cli, "d", 1);
			chan_recv(f->to_srv, &op, 1, IO_MS);
			break;
		} else { /* 'c': close with messages still queued */
			break;
		}
		chan_send(f->to_cli, "k", 1);
	}
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	return 0;
}

static void order(struct fl *f, char op)
{
	chan_send(f->to_srv, &op, 1);
	char ack;
	chan_recv(f->to_cli, &ack, 1, IO_MS);
}

static void test_flush(int posix)
{
	static struct fl f;
	f.cfg = test_config(2, posix);
	f.to_srv = chan_new();
	f.to_cli = chan_new();
	char up;

	/* Idle, stopped, resumed, drained with a request answered, closed. */
	pid_t srv = spawn(flush_server, &f, 60);
	chan_recv(f.to_cli, &up, 1, IO_MS);
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &f.cfg), 0);
	CHECK_EQ(shmq_client_flush(c, 0), 0); /* nothing sent */
	CHECK_EQ(shmq_client_send(c, "one", 3, IO_MS), 0);
	CHECK_EQ(shmq_client_flush(c, 0), -EAGAIN);
	uint64_t t0 = now_ns();
	CHECK_EQ(shmq_client_flush(c, 150), -ETIMEDOUT);
	CHECK(now_ns() - t0 >= 150000000ull);
	order(&f, 'r');
	CHECK_EQ(shmq_client_flush(c, IO_MS), 0);
	CHECK(kill(srv, SIGSTOP) == 0);
	CHECK_EQ(shmq_client_send(c, "two", 3, IO_MS), 0);
	CHECK_EQ(shmq_client_flush(c, 200), -ETIMEDOUT); /* stopped is not dead */
	CHECK(kill(srv, SIGCONT) == 0);
	order(&f, 'r');
	CHECK_EQ(shmq_client_flush(c, IO_MS), 0);
	/* A request queued before the shutdown is drained and answered. */
	uint64_t id;
	CHECK_EQ(shmq_client_send_request(c, "req", 3, &id, IO_MS), 0);
	CHECK_EQ(shmq_client_send(c, "three", 5, IO_MS), 0);
	order(&f, 'd');
	CHECK_EQ(shmq_client_flush(c, IO_MS), 0);
	char rep[8];
	shmq_msg m;
	CHECK_EQ(shmq_client_recv_reply(c, id, rep, sizeof(rep), &m, IO_MS), 3);
	CHECK(memcmp(rep, "req", 3) == 0 && m.id == id);
	CHECK_EQ(shmq_client_send(c, "four", 4, IO_MS), -EPIPE);
	chan_send(f.to_srv, "x", 1);
	kid_wait(srv, IO_MS);
	CHECK_EQ(shmq_client_flush(c, IO_MS), 0); /* nothing new, all taken */
	CHECK_EQ(shmq_client_close(c), 0);

	/* Closed without draining: what was queued is lost, and flush says so. */
	srv = spawn(flush_server, &f, 60);
	chan_recv(f.to_cli, &up, 1, IO_MS);
	CHECK_EQ(shmq_client_connect(&c, &f.cfg), 0);
	CHECK_EQ(shmq_client_send(c, "lost", 4, IO_MS), 0);
	chan_send(f.to_srv, "c", 1);
	kid_wait(srv, IO_MS);
	CHECK_EQ(shmq_client_flush(c, IO_MS), -EPIPE);
	CHECK_EQ(shmq_client_close(c), 0);

	/* Killed: flush learns it within a second. */
	srv = spawn(flush_server, &f, 60);
	chan_recv(f.to_cli, &up, 1, IO_MS);
	CHECK_EQ(shmq_client_connect(&c, &f.cfg), 0);
	CHECK_EQ(shmq_client_send(c, "lost", 4, IO_MS), 0);
	CHECK(kill(srv, SIGKILL) == 0);
	kid_forget(srv);
	t0 = now_ns();
	CHECK_EQ(shmq_client_flush(c, IO_MS), -EPIPE);
	uint64_t ms = (now_ns() - t0) / 1000000;
	CHECK(ms < 1000);
	CHECK(waitpid(srv, NULL, 0) == srv);
	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_remove(&f.cfg, 0), 0); /* the dead server's endpoint */
	check_nothing_left(&f.cfg);
	chan_close(&f.to_srv);
	chan_close(&f.to_cli);
	printf("%s: flush: 0 / -EAGAIN / -ETIMEDOUT (stopped) / 0 (resumed, drained, "
	       "request answered) / -EPIPE (closed) / -EPIPE %llu ms after SIGKILL\n",
	       posix ? "posix" : "sysv", (unsigned long long)ms);
}

/* ---- (4) a client that claims more than it sent --------------------------- */

struct liar {
	shmq_config cfg;
	struct chan ready, done;
	int lie;
};

static int liar_client(void *arg)
{
	struct liar *l = arg;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &l->cfg), 0);
	unsigned char buf[MAX_LEN];
	for (uint32_t seq = 0; seq < 100; seq++)
		CHECK_EQ(shmq_client_send(c, buf, make_msg(buf, (uint32_t)l->lie, seq), 0), 0);
	if (l->lie) {
		/* Map the segment as any attacher may, and move our own
		 * request ring's published index past what we wrote. */
		struct seg sg;
		struct geometry g;
		CHECK_EQ(seg_address(&sg, &l->cfg), 0);
		CHECK_EQ(seg_attach(&sg, 0600, 0), 0);
		CHECK_EQ(seg_validate(sg.base, sg.size, &g), 0);
		struct slot_ctl *ctl = slot_ctl(sg.base, &g, shmq_client_self(c).slot);
		atomic_fetch_add(&ctl->req.prod, 4096);
		seg_detach(&sg);
	}
	chan_send(l->ready, "r", 1);
	char d;
	chan_recv(l->done, &d, 1, IO_MS);
	shmq_client_close(c);
	return 0;
}

static void test_liar(int posix)
{
	static struct liar l;
	l.cfg = test_config(0, posix);
	l.cfg.slots = 2;
	l.ready = chan_new();
	l.done = chan_new();
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &l.cfg), 0);
	own_srv = s;
	pid_t kid[2];
	for (int i = 0; i < 2; i++) {
		l.lie = i;
		kid[i] = spawn(liar_client, &l, 30);
	}
	char r;
	for (int i = 0; i < 2; i++)
		chan_recv(l.ready, &r, 1, IO_MS);
	CHECK_EQ(shmq_server_shutdown(s), 0);
	uint32_t next[2] = {0};
	uint64_t t0 = now_ns();
	for (;;) {
		shmq_msg m;
		int rc = shmq_server_recv_view(s, &m, IO_MS);
		if (rc == -ESHUTDOWN)
			break;
		CHECK_EQ(rc, 0);
		take(next, m.data, m.len, 2);
		CHECK_EQ(shmq_server_release(s, &m), 0);
	}
	uint64_t ms = (now_ns() - t0) / 1000000;
	CHECK(ms < 1000); /* not held until some timeout */
	CHECK_EQ(next[0], 100);	 /* the honest client: everything */
	CHECK_EQ(next[1], 100);	 /* the liar: what it really sent */
	CHECK_EQ(shmq_server_clients(s, NULL, 0), 1); /* and it is gone */
	for (int i = 0; i < 2; i++)
		chan_send(l.done, "d", 1);
	for (int i = 0; i < 2; i++)
		kid_wait(kid[i], IO_MS);
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing_left(&l.cfg);
	chan_close(&l.ready);
	chan_close(&l.done);
	printf("%s: a client claiming 4096 bytes it never wrote: disconnected, drain done in "
	       "%llu ms, both clients' 100 real messages received\n",
	       posix ? "posix" : "sysv", (unsigned long long)ms);
}

int main(void)
{
	setup(110);
	uint64_t seed = 0x5eed0000u ^ (uint64_t)getpid();
	int rounds = SANITIZED ? 3 : 10;
	for (int posix = 0; posix <= 1; posix++)
		for (int n = 0; n < 3; n++) {
			shmq_config cfg = test_config(n, posix);
			ep_track(&cfg);
		}
	for (int posix = 0; posix <= 1; posix++) {
		test_exact_drain(posix);
		test_race(posix, &seed, rounds);
		test_flush(posix);
		test_liar(posix);
	}
	return 0;
}
