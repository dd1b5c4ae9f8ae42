/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy on both sides, with the client and the server in two processes:
 * reserve/commit and recv_view/release; a commit shorter than the
 * reservation; -EBUSY while a view or a reservation is open; -EMSGSIZE from a
 * copying receive into a buffer too small, which leaves the message queued;
 * payloads aligned to 8 bytes; a viewed record that the producer cannot
 * overwrite however hard it pushes; and views through thousands of
 * wrap-arounds of the smallest ring, both ways.
 */
#include "harness.h"
#include "proc.h"

#define IO_MS  10000 /* any one send or receive; only a bug comes near it */
#define N_WRAP 20000u

#define CHECK_ALIGNED(p) CHECK(((uintptr_t)(p)&7u) == 0)

/* ---- helpers --------------------------------------------------------------- */

struct zc {
	shmq_config cfg;
	struct chan to_cli, from_cli;
};

/* Is the message at p (len bytes) the pattern for seed? */
static void check_bytes(const void *p, size_t len, uint64_t seed)
{
	static unsigned char exp[4096];
	CHECK(len <= sizeof(exp));
	fill_random(exp, len, seed);
	CHECK(len == 0 || memcmp(p, exp, len) == 0);
}

static void send_pattern(shmq_client *c, size_t len, uint64_t seed, int timeout_ms, int expect)
{
	unsigned char buf[1024];
	CHECK(len <= sizeof(buf));
	fill_random(buf, len, seed);
	CHECK_EQ(shmq_client_send(c, buf, len, timeout_ms), expect);
}

static void view_check(shmq_server *s, size_t len, uint64_t seed, uint32_t flags)
{
	shmq_msg m;
	CHECK_EQ(shmq_server_recv_view(s, &m, IO_MS), 0);
	CHECK_EQ(m.len, len);
	CHECK_EQ(m.flags, flags);
	CHECK_ALIGNED(m.data);
	check_bytes(m.data, len, seed);
	CHECK_EQ(shmq_server_release(s, &m), 0);
}

/* ---- the API, step by step: the client's half ----------------------------- */

/* Reserve 100, commit 60; nothing else goes while the reservation is open,
 * and a failed commit keeps it open. */
static void cli_short_commit(shmq_client *c)
{
	void *p, *q;
	unsigned char buf[64];
	CHECK_EQ(shmq_client_reserve(c, 100, &p, IO_MS), 0);
	CHECK_ALIGNED(p);
	CHECK_EQ(shmq_client_reserve(c, 10, &q, IO_MS), -EBUSY);
	CHECK_EQ(shmq_client_send(c, "x", 1, IO_MS), -EBUSY);
	CHECK_EQ(shmq_client_request(c, "x", 1, buf, sizeof(buf), IO_MS), -EBUSY);
	fill_random(p, 100, 1);
	shmq_client_id self = shmq_client_self(c);
	memcpy(p, &self, sizeof(self)); /* the server compares it with msg.from */
	uint64_t id = 77;
	CHECK_EQ(shmq_client_commit(c, 101, &id), -EMSGSIZE);
	CHECK_EQ(id, 77); /* a failed commit sets nothing */
	CHECK_EQ(shmq_client_commit(c, 60, &id), 0);
	CHECK_EQ(id, 0); /* a one-way message has no id */
	CHECK_EQ(shmq_client_commit(c, 60, NULL), -EINVAL); /* nothing reserved */
	/* An aborted reservation sends nothing: the server's next message
	 * must be the empty request below. */
	CHECK_EQ(shmq_client_reserve(c, 200, &p, IO_MS), 0);
	memset(p, 0xab, 200);
	CHECK_EQ(shmq_client_abort(c), 0);
	CHECK_EQ(shmq_client_abort(c), -EINVAL);
	/* An empty request, zero-copy: it gets an id, and one request is
	 * now outstanding. */
	shmq_client_stats st;
	CHECK_EQ(shmq_client_reserve_request(c, 0, &p, IO_MS), 0);
	CHECK_ALIGNED(p);
	CHECK_EQ(shmq_client_commit(c, 0, &id), 0);
	CHECK(id != 0);
	CHECK_EQ(shmq_client_stat(c, &st), 0);
	CHECK_EQ(st.inflight, 1);
	CHECK_EQ(shmq_client_cancel(c, id), 0);
	CHECK_EQ(shmq_client_cancel(c, id), -ENOENT);
}

static void cli_alignment(shmq_client *c)
{
	for (size_t len = 0; len <= 64; len++) {
		void *p;
		CHECK_EQ(shmq_client_reserve(c, len, &p, IO_MS), 0);
		CHECK_ALIGNED(p);
		fill_random(p, len, 100 + len);
		CHECK_EQ(shmq_client_commit(c, len, NULL), 0);
	}
}

/* The server holds a view of a message while we fill the ring behind it. */
static void cli_flood(shmq_client *c, const struct zc *z)
{
	char go;
	chan_recv(z->to_cli, &go, 1, IO_MS);
	uint32_t k = 0;
	while (k < 100000) {
		unsigned char buf[200];
		fill_random(buf, sizeof(buf), 1000 + k);
		int rc = shmq_client_send(c, buf, sizeof(buf), 0);
		if (rc == -EAGAIN)
			break;
		CHECK_EQ(rc, 0);
		k++;
	}
	CHECK(k > 0 && k < 100000);
	chan_send(z->from_cli, &k, sizeof(k));
	/* This one waits for the room the server frees after its release. */
	send_pattern(c, 200, 1000 + k, IO_MS, 0);
}

/* Zero-copy receive of the server's messages. */
static void cli_views(shmq_client *c)
{
	shmq_msg m, m2;
	unsigned char buf[512];
	CHECK_EQ(shmq_client_recv_view(c, &m, IO_MS), 0);
	CHECK_EQ(m.len, 40);
	CHECK_ALIGNED(m.data);
	check_bytes(m.data, 40, 6);
	CHECK_EQ(shmq_client_recv_view(c, &m2, 0), -EBUSY);
	CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), 0), -EBUSY);
	CHECK_EQ(shmq_client_request(c, "x", 1, buf, sizeof(buf), 0), -EBUSY);
	CHECK_EQ(shmq_client_release(c, &m), 0);
	CHECK_EQ(shmq_client_release(c, &m), -EINVAL);

	/* Too small a buffer: -EMSGSIZE, and the message stays queued. */
	CHECK_EQ(shmq_client_recv(c, buf, 299, IO_MS), -EMSGSIZE);
	CHECK_EQ(shmq_client_recv(c, NULL, 0, IO_MS), -EMSGSIZE);
	CHECK_EQ(shmq_client_recv(c, buf, 300, IO_MS), 300);
	check_bytes(buf, 300, 7);
	/* The empty message fits in no buffer at all. */
	CHECK_EQ(shmq_client_recv(c, NULL, 0, IO_MS), 0);
	CHECK_EQ(shmq_client_recv_view(c, &m, 0), -EAGAIN);
}

static int api_client(void *arg)
{
	const struct zc *z = arg;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &z->cfg), 0);
	cli_short_commit(c);
	cli_alignment(c);
	/* For the server's -EMSGSIZE: a 500-byte message, then "after" and an
	 * empty one; for its -EBUSY, two more; then the one it will pin. */
	send_pattern(c, 500, 2, IO_MS, 0);
	CHECK_EQ(shmq_client_send(c, "after", 5, IO_MS), 0);
	CHECK_EQ(shmq_client_send(c, NULL, 0, IO_MS), 0);
	send_pattern(c, 30, 3, IO_MS, 0);
	send_pattern(c, 40, 4, IO_MS, 0);
	send_pattern(c, 200, 5, IO_MS, 0);
	cli_flood(c, z);
	cli_views(c);
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

/* ---- the API, step by step: the server's half ----------------------------- */

static shmq_client_id srv_short_commit(shmq_server *s)
{
	shmq_msg m, m2;
	unsigned char buf[16];
	shmq_client_id self;
	CHECK_EQ(shmq_server_recv_view(s, &m, IO_MS), 0);
	CHECK_EQ(m.len, 60);
	CHECK_EQ(m.flags, 0);
	CHECK_ALIGNED(m.data);
	memcpy(&self, m.data, sizeof(self));
	CHECK_EQ(self.slot, m.from.slot);
	CHECK_EQ(self.gen, m.from.gen);
	unsigned char exp[100];
	fill_random(exp, sizeof(exp), 1);
	CHECK(memcmp((const unsigned char *)m.data + 8, exp + 8, 52) == 0);
	/* One view at a time. */
	CHECK_EQ(shmq_server_recv_view(s, &m2, 0), -EBUSY);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, 0), -EBUSY);
	CHECK_EQ(shmq_server_release(s, &m), 0);
	CHECK_EQ(shmq_server_release(s, &m), -EINVAL);
	view_check(s, 0, 0, SHMQ_MSG_REQUEST);
	return m.from;
}

static void srv_small_buffer(shmq_server *s)
{
	unsigned char buf[512];
	shmq_msg m;
	memset(&m, 0, sizeof(m));
	CHECK_EQ(shmq_server_recv(s, buf, 499, &m, IO_MS), -EMSGSIZE);
	CHECK_EQ(m.len, 500);
	CHECK_EQ(shmq_server_recv(s, NULL, 0, NULL, IO_MS), -EMSGSIZE);
	/* Still queued, whole, and only once. */
	CHECK_EQ(shmq_server_recv(s, buf, 500, &m, IO_MS), 500);
	check_bytes(buf, 500, 2);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, IO_MS), 5);
	CHECK(memcmp(buf, "after", 5) == 0);
	CHECK_EQ(shmq_server_recv(s, NULL, 0, &m, IO_MS), 0);
	CHECK_EQ(m.len, 0);
}

static void srv_busy(shmq_server *s)
{
	shmq_msg m, m2;
	unsigned char buf[64];
	CHECK_EQ(shmq_server_recv_view(s, &m, IO_MS), 0);
	CHECK_EQ(m.len, 30);
	CHECK_EQ(shmq_server_recv_view(s, &m2, IO_MS), -EBUSY);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, IO_MS), -EBUSY);
	check_bytes(m.data, 30, 3);
	CHECK_EQ(shmq_server_release(s, &m), 0);
	view_check(s, 40, 4, 0);
}

/* Pin a view, let the client fill the ring: the viewed bytes do not change;
 * after the release everything arrives. */
static void srv_pin(shmq_server *s, const struct zc *z)
{
	shmq_msg m;
	CHECK_EQ(shmq_server_recv_view(s, &m, IO_MS), 0);
	CHECK_EQ(m.len, 200);
	check_bytes(m.data, 200, 5);
	chan_send(z->to_cli, "F", 1);
	uint32_t k;
	chan_recv(z->from_cli, &k, sizeof(k), IO_MS);
	check_bytes(m.data, 200, 5);
	CHECK_EQ(shmq_server_release(s, &m), 0);
	for (uint32_t i = 0; i <= k; i++)
		view_check(s, 200, 1000 + i, 0);
	printf("  pinned view held while the client queued %u messages behind it\n", k);
}

/* Zero-copy send; one reservation at a time; commit at most what was
 * reserved. */
static void srv_views(shmq_server *s, shmq_client_id to)
{
	void *p, *q;
	unsigned char buf[300];
	/* Aborted: the client must not see it (it checks every message). */
	CHECK_EQ(shmq_server_reserve(s, to, 250, &p, IO_MS), 0);
	memset(p, 0xcd, 250);
	CHECK_EQ(shmq_server_abort(s), 0);
	CHECK_EQ(shmq_server_abort(s), -EINVAL);
	CHECK_EQ(shmq_server_reserve(s, to, 100, &p, IO_MS), 0);
	CHECK_ALIGNED(p);
	CHECK_EQ(shmq_server_reserve(s, to, 10, &q, IO_MS), -EBUSY);
	CHECK_EQ(shmq_server_send(s, to, "x", 1, IO_MS), -EBUSY);
	fill_random(p, 100, 6);
	CHECK_EQ(shmq_server_commit(s, 101), -EMSGSIZE);
	CHECK_EQ(shmq_server_commit(s, 40), 0);
	CHECK_EQ(shmq_server_commit(s, 40), -EINVAL);
	fill_random(buf, 300, 7);
	CHECK_EQ(shmq_server_send(s, to, buf, 300, IO_MS), 0);
	CHECK_EQ(shmq_server_reserve(s, to, 0, &p, IO_MS), 0);
	CHECK_EQ(shmq_server_commit(s, 0), 0);
}

/* Messages that came from calls that failed: counted, so the rest runs. */
static int stray;

static void api_run(int posix)
{
	static struct zc z;
	z.cfg = test_config(posix, posix);
	z.cfg.slots = 4;
	ep_track(&z.cfg);
	z.to_cli = chan_new();
	z.from_cli = chan_new();
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &z.cfg), 0);
	own_srv = s;
	pid_t kid = spawn(api_client, &z, 60);

	shmq_client_id from = srv_short_commit(s);
	for (size_t len = 0; len <= 64; len++)
		view_check(s, len, 100 + len, 0);
	srv_small_buffer(s);
	srv_busy(s);
	srv_pin(s, &z);
	srv_views(s, from);
	kid_wait(kid, 30000);
	/* The client's refused calls sent nothing. */
	unsigned char buf[64];
	ssize_t n = shmq_server_recv(s, buf, sizeof(buf), NULL, 0);
	if (n != -EAGAIN) {
		fprintf(stderr,
			"a message (%zd: %.*s) arrived from a call that failed with -EBUSY\n", n,
			n > 0 ? (int)n : 0, buf);
		stray++;
	}
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	chan_close(&z.to_cli);
	chan_close(&z.from_cli);
	printf("%s: zero-copy API checks passed\n", posix ? "posix" : "sysv");
}

/* ---- thousands of wrap-arounds of a 256-byte ring, both ways -------------- */

/* Length of message i: anything from 0 to max, often max and near it. */
static size_t wrap_len(uint32_t i, size_t max)
{
	uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull;
	switch ((h >> 40) & 7) {
	case 0:
		return max;
	case 1:
		return max - (h >> 50) % 9;
	default:
		return (h >> 32) % (max + 1);
	}
}

/* Reserve a little more than needed now and then: commits are shorter. */
static size_t wrap_resv(uint32_t i, size_t len, size_t max)
{
	return i % 3 == 0 ? (len + 50 < max ? len + 50 : max) : len;
}

static int wrap_client(void *arg)
{
	const struct zc *z = arg;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &z->cfg), 0);
	size_t max = shmq_client_max_msg(c);
	for (uint32_t i = 0; i < N_WRAP; i++) {
		size_t len = wrap_len(i, max);
		void *p;
		CHECK_EQ(shmq_client_reserve(c, wrap_resv(i, len, max), &p, IO_MS), 0);
		CHECK_ALIGNED(p);
		fill_random(p, len, i);
		CHECK_EQ(shmq_client_commit(c, len, NULL), 0);
	}
	for (uint32_t i = 0; i < N_WRAP; i++) {
		shmq_msg m;
		CHECK_EQ(shmq_client_recv_view(c, &m, IO_MS), 0);
		CHECK_EQ(m.len, wrap_len(i, max));
		CHECK_ALIGNED(m.data);
		check_bytes(m.data, m.len, ~(uint64_t)i);
		CHECK_EQ(shmq_client_release(c, &m), 0);
	}
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

static void wrap_run(int posix)
{
	static struct zc z;
	z.cfg = test_config(2 + posix, posix);
	z.cfg.slots = 1;
	z.cfg.ring_size = SHMQ_MIN_RING_SIZE;
	ep_track(&z.cfg);
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &z.cfg), 0);
	own_srv = s;
	size_t max = shmq_server_max_msg(s);
	CHECK(max > 0 && max < SHMQ_MIN_RING_SIZE);
	pid_t kid = spawn(wrap_client, &z, 60);

	uint64_t bytes = 0, t0 = now_ns();
	shmq_client_id from = {0, 0};
	for (uint32_t i = 0; i < N_WRAP; i++) {
		shmq_msg m;
		CHECK_EQ(shmq_server_recv_view(s, &m, IO_MS), 0);
		CHECK_EQ(m.len, wrap_len(i, max));
		CHECK_ALIGNED(m.data);
		check_bytes(m.data, m.len, i);
		from = m.from;
		bytes += 8 + ((m.len + 7) & ~(size_t)7);
		CHECK_EQ(shmq_server_release(s, &m), 0);
	}
	for (uint32_t i = 0; i < N_WRAP; i++) {
		size_t len = wrap_len(i, max);
		void *p;
		CHECK_EQ(shmq_server_reserve(s, from, wrap_resv(i, len, max), &p, IO_MS), 0);
		CHECK_ALIGNED(p);
		fill_random(p, len, ~(uint64_t)i);
		CHECK_EQ(shmq_server_commit(s, len), 0);
	}
	kid_wait(kid, 30000);
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	printf("%s: %u views each way through a %u-byte ring: %llu+ wrap-arounds each way, "
	       "%.2f s\n",
	       posix ? "posix" : "sysv", N_WRAP, SHMQ_MIN_RING_SIZE,
	       (unsigned long long)(bytes / SHMQ_MIN_RING_SIZE), (double)(now_ns() - t0) / 1e9);
}

int main(void)
{
	setup(100);
	for (int posix = 0; posix <= 1; posix++) {
		api_run(posix);
		wrap_run(posix);
	}
	for (int i = 0; i < neps; i++)
		CHECK_EQ(shmq_remove(&eps[i], 0), -ENOENT);
	CHECK_EQ(stray, 0);
	passed = 1;
	return 0;
}
