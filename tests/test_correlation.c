/* SPDX-License-Identifier: MIT */
/*
 * Request/reply correlation, with the server and the client in two processes,
 * over System V and over POSIX.
 *
 *  1. A request that times out (the server answers it only once the client
 *     has reported -EINPROGRESS) returns -EINPROGRESS, never -EAGAIN or
 *     -ETIMEDOUT; the next request gets its own reply; the late one is
 *     discarded and counted (shmq_client_stat and shmq_inspect). With timeout
 *     0 the same, and the server gets exactly one copy of the request.
 *  2. 64 pipelined requests, all received by the server before it answers
 *     them in reverse order; collected by id in forward order, then with
 *     SHMQ_ANY_REQUEST; with copies and with zero-copy on both sides; and
 *     mixed: one by id (the others held aside), a view of a held reply while
 *     the one held just before it is cancelled, the rest with ANY in the
 *     order they came.
 *  3. Pushes interleaved with replies: each call gets what it asks for, in
 *     order, byte for byte; shmq_client_recv never returns a reply.
 *  4. Edge cases: unknown ids, cancel, SHMQ_MAX_INFLIGHT, a reply larger than
 *     the caller's buffer, NUL bytes and empty payloads, a reply to what is
 *     not a request.
 *  5. A reply addressed through a stale shmq_msg after the client reconnected
 *     on the same slot (new gen): -ENOTCONN, and the new client never sees it.
 *
 * The server answers a request with "re:" and the request's bytes (its own
 * copy of what it received), so a reply names its request; the client
 * compares it with what it sent. The two processes keep in step over pipes
 * (say/hear); a late answer waits for the client's word that it gave up.
 */
#include "harness.h"
#include "proc.h"

#define IO_MS	   5000 /* any one send, receive or pipe read; only a bug comes near it */
#define LATE_MS	   100	/* the client's timeout in the "answered late" case */
#define QUIET_MS   60	/* how long "nothing more arrives" is watched */
#define NPIPE	   64
#define BIG_LEN	   1000u
#define BIG2_LEN   1500u
#define SMALL_CAP  100u
#define BUF_CAP	   4096u

struct ctx {
	shmq_config cfg;
	struct chan c2s, s2c; /* client -> server, server -> client */
};

/* ---- helpers, both sides --------------------------------------------------- */

static void say(struct chan ch, char tag)
{
	chan_send(ch, &tag, 1);
}

/* The other process's next word must be tag: the two stay in step. */
static void hear(struct chan ch, char tag)
{
	char t = 0;
	chan_recv(ch, &t, 1, IO_MS);
	if (t != tag) {
		fprintf(stderr, "pid %d: expected '%c' from the other process, got '%c'\n",
			(int)getpid(), tag, t);
		exit(1);
	}
}

/* Payload i of pipelined round r: names r and i, then NUL bytes and a few
 * pseudo-random ones, 6 to 53 bytes in all. */
static size_t pipe_payload(int r, int i, unsigned char *buf)
{
	int n = snprintf((char *)buf, 16, "P%d-%02d", r, i);
	size_t len = (size_t)n + (size_t)((i * 7 + r) % 48);
	memset(buf + n, 0, len - (size_t)n);
	if (len > (size_t)n + 8)
		fill_random(buf + n + 4, len - (size_t)n - 8, (uint64_t)(r * 100 + i));
	return len;
}

/* ---- server side ------------------------------------------------------------ */

struct srv {
	shmq_server *s;
	shmq_client_id cli;  /* the client we serve, as it says it is */
	uint64_t received;   /* messages and requests we received */
	unsigned char buf[BUF_CAP], out[BUF_CAP + 8];
	shmq_msg held[SHMQ_MAX_INFLIGHT];
	unsigned char copies[NPIPE][64];
	size_t lens[NPIPE];
};

static struct srv S;

/* Receive the next message (copied into S.buf) with these flags, from our
 * client; its length. */
static size_t srv_take(shmq_msg *m, uint32_t flags)
{
	memset(m, 0xa5, sizeof(*m));
	ssize_t n = shmq_server_recv(S.s, S.buf, sizeof(S.buf), m, IO_MS);
	if (n < 0)
		CHECK_EQ(n, 0);
	S.received++;
	CHECK_EQ(m->len, n);
	CHECK_EQ(m->flags, flags);
	CHECK_EQ(m->from.slot, S.cli.slot);
	CHECK_EQ(m->from.gen, S.cli.gen);
	if (!(flags & SHMQ_MSG_REQUEST))
		CHECK_EQ(m->id, 0);
	return (size_t)n;
}

/* The next message must be the request (or, flags 0, the one-way message)
 * with these bytes. */
static void srv_expect(shmq_msg *m, uint32_t flags, const void *want, size_t len)
{
	size_t n = srv_take(m, flags);
	CHECK_EQ(n, len);
	if (len && memcmp(S.buf, want, len) != 0) {
		fprintf(stderr, "server: got \"%.*s\", expected \"%.*s\"\n", (int)n, S.buf,
			(int)len, (const char *)want);
		exit(1);
	}
}

static void srv_expect_req(shmq_msg *m, const char *want)
{
	srv_expect(m, SHMQ_MSG_REQUEST, want, strlen(want));
}

/* Answer req with "re:" and bytes. */
static void srv_reply_re(const shmq_msg *req, const void *bytes, size_t len)
{
	CHECK(len + 3 <= sizeof(S.out));
	memcpy(S.out, "re:", 3);
	if (len)
		memcpy(S.out + 3, bytes, len);
	CHECK_EQ(shmq_server_reply(S.s, req, S.out, len + 3, IO_MS), 0);
}

/* Receive the request want and answer it at once. */
static void srv_echo(const char *want)
{
	shmq_msg m;
	srv_expect_req(&m, want);
	srv_reply_re(&m, want, strlen(want));
}

static void srv_push(const void *buf, size_t len)
{
	CHECK_EQ(shmq_server_send(S.s, S.cli, buf, len, IO_MS), 0);
}

/* Nothing more is queued for us. */
static void srv_quiet(void)
{
	shmq_msg m;
	ssize_t n = shmq_server_recv(S.s, S.buf, sizeof(S.buf), &m, QUIET_MS);
	if (n >= 0)
		fprintf(stderr, "server: unexpected message (%zd bytes, flags %u): \"%.*s\"\n", n,
			m.flags, (int)n, S.buf);
	CHECK_EQ(n, -ETIMEDOUT);
}

/* The client's count of what it sent matches ours, and the library's. */
static void srv_count(const struct ctx *x)
{
	uint64_t sent;
	chan_recv(x->c2s, &sent, sizeof(sent), IO_MS);
	CHECK_EQ(sent, S.received);
	shmq_client_info ci;
	CHECK_EQ(shmq_server_client_info(S.s, S.cli, &ci), 0);
	CHECK_EQ(ci.msgs_in, S.received);
}

/* What shmq stat shows of the client's slot, read from this process. */
static shmq_slot_info srv_inspect(const struct ctx *x, uint32_t slot)
{
	shmq_endpoint_info info;
	shmq_slot_info si[4];
	memset(si, 0, sizeof(si));
	CHECK_EQ(shmq_inspect(&x->cfg, &info, si, 4), 1);
	CHECK(slot < 1);
	return si[slot];
}

static void srv_timeouts(const struct ctx *x)
{
	shmq_msg m;
	/* Answered after the client gave up. */
	srv_expect_req(&m, "T1-late");
	hear(x->c2s, 'L');
	srv_reply_re(&m, "T1-late", 7);
	shmq_msg m2;
	srv_expect_req(&m2, "T1-next"); /* not a second copy of T1-late */
	CHECK(m2.id != m.id);
	srv_reply_re(&m2, "T1-next", 7);
	/* shmq stat, from this process, shows what the client counted. */
	uint64_t late;
	chan_recv(x->c2s, &late, sizeof(late), IO_MS);
	CHECK_EQ(late, 1);
	CHECK_EQ(srv_inspect(x, S.cli.slot).late_replies, late);
	srv_count(x);

	/* Timeout 0. */
	srv_expect_req(&m, "T0-zero");
	hear(x->c2s, 'Z');
	srv_reply_re(&m, "T0-zero", 7);
	srv_expect_req(&m2, "T0-after"); /* exactly one copy of T0-zero came */
	CHECK(m2.id != m.id);
	srv_reply_re(&m2, "T0-after", 8);
	chan_recv(x->c2s, &late, sizeof(late), IO_MS);
	CHECK_EQ(late, 2);
	CHECK_EQ(srv_inspect(x, S.cli.slot).late_replies, late);
	srv_count(x);
	srv_quiet(); /* no second copy of anything */
	say(x->s2c, 't');
}

/* Round r: receive all NPIPE requests, then answer them last to first. */
static void srv_pipeline(const struct ctx *x, int r)
{
	hear(x->c2s, 'p');
	for (int i = 0; i < NPIPE; i++) {
		shmq_msg *m = &S.held[i];
		if (r == 0) {
			S.lens[i] = srv_take(m, SHMQ_MSG_REQUEST);
			CHECK(S.lens[i] <= sizeof(S.copies[i]));
			memcpy(S.copies[i], S.buf, S.lens[i]);
		} else {
			CHECK_EQ(shmq_server_recv_view(S.s, m, IO_MS), 0);
			S.received++;
			CHECK_EQ(m->flags, SHMQ_MSG_REQUEST);
			CHECK_EQ(m->from.slot, S.cli.slot);
			CHECK_EQ(m->from.gen, S.cli.gen);
			CHECK(m->len <= sizeof(S.copies[i]));
			S.lens[i] = m->len;
			memcpy(S.copies[i], m->data, m->len);
			CHECK_EQ(shmq_server_release(S.s, m), 0);
		}
		/* In the order sent, as sent. */
		unsigned char want[64];
		size_t wl = pipe_payload(r, i, want);
		CHECK_EQ(S.lens[i], wl);
		CHECK(memcmp(S.copies[i], want, wl) == 0);
	}
	/* The ids the client was given are the ones we see. */
	uint64_t ids[NPIPE];
	chan_recv(x->c2s, ids, sizeof(ids), IO_MS);
	for (int i = 0; i < NPIPE; i++)
		CHECK_EQ(S.held[i].id, ids[i]);
	for (int i = NPIPE - 1; i >= 0; i--) {
		const shmq_msg *m = &S.held[i];
		if (r != 2 && r != 3) {
			srv_reply_re(m, S.copies[i], S.lens[i]);
		} else {
			void *p = NULL;
			size_t len = S.lens[i] + 3;
			/* Reserve more than needed now and then: commit less. */
			CHECK_EQ(shmq_server_reserve_reply(S.s, m, len + (size_t)(i & 1) * 24, &p,
							   IO_MS),
				 0);
			CHECK(p != NULL);
			memcpy(p, "re:", 3);
			memcpy((unsigned char *)p + 3, S.copies[i], S.lens[i]);
			CHECK_EQ(shmq_server_commit(S.s, len), 0);
		}
	}
	srv_count(x);
}

/* P1 pattern, P2 pattern: pseudo-random bytes, NULs included. */
#define PUSH1_LEN 33u
#define PUSH2_LEN 200u

static void srv_pushes(const struct ctx *x)
{
	unsigned char p1[PUSH1_LEN], p2[PUSH2_LEN];
	fill_random(p1, sizeof(p1), 31);
	p1[5] = p1[6] = 0;
	fill_random(p2, sizeof(p2), 32);
	memset(p2 + 50, 0, 40);

	/* push P1, reply R, push P2 */
	shmq_msg m;
	srv_expect_req(&m, "R3");
	srv_push(p1, sizeof(p1));
	srv_reply_re(&m, "R3", 2);
	srv_push(p2, sizeof(p2));

	/* push A, push B, reply, push C */
	srv_expect_req(&m, "R3b");
	srv_push("push-A", 6);
	srv_push("push-B\0", 7);
	srv_reply_re(&m, "R3b", 3);
	srv_push("push-C", 6);

	/* reply, then a push: recv takes the push. */
	srv_expect_req(&m, "Q3");
	srv_reply_re(&m, "Q3", 2);
	srv_push("push-3", 6);

	/* Only a reply queued: recv has nothing for it. */
	srv_expect_req(&m, "Q4");
	srv_reply_re(&m, "Q4", 2);
	say(x->s2c, 'd');

	/* Zero-copy and empty pushes. */
	hear(x->c2s, 'v');
	srv_push("", 0);
	void *p = NULL;
	CHECK_EQ(shmq_server_reserve(S.s, S.cli, 64, &p, IO_MS), 0);
	memcpy(p, "push-5\0tail", 11);
	CHECK_EQ(shmq_server_commit(S.s, 11), 0);
	srv_count(x);
}

static void srv_edges(const struct ctx *x)
{
	shmq_msg m, m2;

	/* Cancelled before the reply came: it comes, and is discarded. */
	srv_expect_req(&m, "C1");
	hear(x->c2s, 'c');
	srv_reply_re(&m, "C1", 2);
	srv_echo("C2");

	/* Cancelled after its reply came (held aside). */
	srv_expect_req(&m, "C3");
	srv_expect_req(&m2, "C4");
	srv_reply_re(&m, "C3", 2);
	srv_reply_re(&m2, "C4", 2);
	say(x->s2c, 'r');
	srv_count(x);

	/* SHMQ_MAX_INFLIGHT: take them all as they come, answer none yet. */
	hear(x->c2s, 'm');
	for (uint32_t i = 0; i < SHMQ_MAX_INFLIGHT; i++) {
		size_t n = srv_take(&S.held[i], SHMQ_MSG_REQUEST);
		CHECK_EQ(n, sizeof(uint32_t));
		uint32_t k;
		memcpy(&k, S.buf, sizeof(k));
		CHECK_EQ(k, i);
	}
	hear(x->c2s, 'M'); /* the one too many failed: it must not be here */
	srv_quiet();
	srv_count(x);
	for (uint32_t i = 0; i < SHMQ_MAX_INFLIGHT; i++)
		CHECK_EQ(shmq_server_reply(S.s, &S.held[i], &i, sizeof(i), IO_MS), 0);
	srv_echo("after-max");

	/* Replies larger than the caller's buffer. */
	unsigned char big[BIG2_LEN];
	srv_expect_req(&m, "BIG");
	fill_random(big, BIG_LEN, 77);
	CHECK_EQ(shmq_server_reply(S.s, &m, big, BIG_LEN, IO_MS), 0);
	srv_expect_req(&m, "Z5");
	srv_expect_req(&m2, "BIG2");
	srv_reply_re(&m, "Z5", 2); /* before BIG2's */
	fill_random(big, BIG2_LEN, 78);
	CHECK_EQ(shmq_server_reply(S.s, &m2, big, BIG2_LEN, IO_MS), 0);

	/* Empty payloads and NUL bytes: each answer made of what we got. */
	static const unsigned char nuls[46] = {0, 'a', 0, 0, 'b', 0};
	srv_expect(&m, SHMQ_MSG_REQUEST, "", 0);
	CHECK_EQ(shmq_server_reply(S.s, &m, NULL, 0, IO_MS), 0);
	srv_expect(&m, SHMQ_MSG_REQUEST, nuls, sizeof(nuls));
	srv_reply_re(&m, S.buf, m.len);
	srv_expect(&m, SHMQ_MSG_REQUEST, "", 0); /* zero-copy, empty */
	void *p = NULL;
	CHECK_EQ(shmq_server_reserve_reply(S.s, &m, 16, &p, IO_MS), 0);
	CHECK_EQ(shmq_server_commit(S.s, 0), 0);
	srv_expect(&m, 0, "", 0); /* an empty one-way message */
	srv_push("\0\0\0", 3);

	/* Only a request can be answered. */
	srv_expect(&m, 0, "oneway", 6);
	shmq_client_info before, after;
	CHECK_EQ(shmq_server_client_info(S.s, S.cli, &before), 0);
	CHECK_EQ(shmq_server_reply(S.s, &m, "bad", 3, IO_MS), -EINVAL);
	p = NULL;
	CHECK_EQ(shmq_server_reserve_reply(S.s, &m, 3, &p, IO_MS), -EINVAL);
	CHECK_EQ(shmq_server_commit(S.s, 0), -EINVAL); /* nothing was reserved */
	srv_expect_req(&m2, "not-a-request-any-more");
	shmq_msg forged = m2;
	forged.flags = 0;
	CHECK_EQ(shmq_server_reply(S.s, &forged, "bad", 3, IO_MS), -EINVAL);
	CHECK_EQ(shmq_server_reserve_reply(S.s, &forged, 3, &p, IO_MS), -EINVAL);
	CHECK_EQ(shmq_server_client_info(S.s, S.cli, &after), 0);
	CHECK_EQ(after.msgs_out, before.msgs_out);
	srv_reply_re(&m2, "not-a-request-any-more", 22);
	srv_push("after-inval", 11);
	srv_count(x);
}

static void srv_reconnect(const struct ctx *x)
{
	shmq_msg old, m;
	srv_expect_req(&old, "S5-old");
	say(x->s2c, 'g');
	hear(x->c2s, 'x'); /* the client closed */
	/* We see it leave, and take nothing more from it. */
	CHECK_EQ(shmq_server_clients(S.s, NULL, 0), 0);
	CHECK_EQ(shmq_server_recv(S.s, S.buf, sizeof(S.buf), &m, 0), -EAGAIN);
	say(x->s2c, 'n');
	shmq_client_id now;
	chan_recv(x->c2s, &now, sizeof(now), IO_MS);
	CHECK_EQ(now.slot, old.from.slot);
	CHECK(now.gen != old.from.gen);
	S.cli = now;
	srv_expect_req(&m, "S5-new");
	CHECK_EQ(m.from.slot, old.from.slot);
	/* The old (slot, gen) is gone for good. */
	CHECK_EQ(shmq_server_reply(S.s, &old, "stale", 5, IO_MS), -ENOTCONN);
	void *p = NULL;
	CHECK_EQ(shmq_server_reserve_reply(S.s, &old, 5, &p, IO_MS), -ENOTCONN);
	CHECK_EQ(shmq_server_send(S.s, old.from, "stale-push", 10, IO_MS), -ENOTCONN);
	shmq_client_info ci;
	CHECK_EQ(shmq_server_client_info(S.s, old.from, &ci), -ENOTCONN);
	CHECK_EQ(shmq_server_client_info(S.s, now, &ci), 0);
	CHECK_EQ(ci.msgs_out, 0);
	srv_reply_re(&m, "S5-new", 6);
	srv_push("S5-mark", 7);
	hear(x->c2s, 'q'); /* the client checked and closed */
}

static int server_main(void *arg)
{
	const struct ctx *x = arg;
	CHECK_EQ(shmq_server_create(&S.s, &x->cfg), 0);
	own_srv = S.s;
	say(x->s2c, 'R');
	pid_t pid;
	chan_recv(x->c2s, &S.cli, sizeof(S.cli), IO_MS);
	chan_recv(x->c2s, &pid, sizeof(pid), IO_MS);
	shmq_client_info ci[2];
	CHECK_EQ(shmq_server_clients(S.s, ci, 2), 1);
	CHECK_EQ(ci[0].pid, pid);
	CHECK_EQ(ci[0].id.slot, S.cli.slot);
	CHECK_EQ(ci[0].id.gen, S.cli.gen);

	srv_timeouts(x);
	for (int r = 0; r < 5; r++)
		srv_pipeline(x, r);
	srv_pushes(x);
	srv_edges(x);
	srv_reconnect(x);
	srv_quiet();
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(S.s), 0);
	return 0;
}

/* ---- client side ------------------------------------------------------------ */

static unsigned char rbuf[BUF_CAP];

static shmq_client_stats cstat(const shmq_client *c)
{
	shmq_client_stats st;
	memset(&st, 0xa5, sizeof(st));
	CHECK_EQ(shmq_client_stat(c, &st), 0);
	return st;
}

/* rbuf[0..n) is "re:" and want[0..len). */
static void check_re(ssize_t n, const void *want, size_t len)
{
	if (n < 0)
		CHECK_EQ(n, 0);
	if ((size_t)n != len + 3 || memcmp(rbuf, "re:", 3) != 0 ||
	    (len && memcmp(rbuf + 3, want, len) != 0)) {
		fprintf(stderr, "client: got \"%.*s\" (%zd bytes), expected \"re:%.*s\"\n", (int)n,
			rbuf, n, (int)len, (const char *)want);
		exit(1);
	}
}

/* A request that must get its own reply. */
static void cli_request(shmq_client *c, const char *req)
{
	size_t len = strlen(req);
	check_re(shmq_client_request(c, req, len, rbuf, sizeof(rbuf), IO_MS), req, len);
}

static void cli_count(const struct ctx *x, const shmq_client *c)
{
	uint64_t sent = cstat(c).msgs_out;
	chan_send(x->c2s, &sent, sizeof(sent));
}

static uint64_t my_late(const struct ctx *x, const shmq_client *c)
{
	shmq_endpoint_info info;
	shmq_slot_info si;
	CHECK_EQ(shmq_inspect(&x->cfg, &info, &si, 1), 1);
	CHECK_EQ(si.slot, shmq_client_self(c).slot);
	CHECK_EQ(si.gen, shmq_client_self(c).gen);
	CHECK_EQ(si.pid, getpid());
	return si.late_replies;
}

static void cli_timeouts(const struct ctx *x, shmq_client *c)
{
	/* Sent, answered too late. */
	uint64_t t0 = now_ns();
	ssize_t n = shmq_client_request(c, "T1-late", 7, rbuf, sizeof(rbuf), LATE_MS);
	uint64_t took = now_ns() - t0;
	CHECK_EQ(n, -EINPROGRESS);
	CHECK(took >= (uint64_t)(LATE_MS - 1) * 1000000u); /* it did wait */
	shmq_client_stats st = cstat(c);
	CHECK_EQ(st.inflight, 0); /* abandoned */
	CHECK_EQ(st.late_replies, 0);
	CHECK_EQ(st.msgs_out, 1);
	say(x->c2s, 'L');
	/* The late reply is in the ring ahead of this one's. */
	cli_request(c, "T1-next");
	st = cstat(c);
	CHECK_EQ(st.late_replies, 1);
	CHECK_EQ(st.msgs_in, 1);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.held, 0);
	CHECK_EQ(my_late(x, c), 1);
	chan_send(x->c2s, &st.late_replies, sizeof(st.late_replies));
	cli_count(x, c);

	/* Timeout 0: sent, not answered at once. */
	n = shmq_client_request(c, "T0-zero", 7, rbuf, sizeof(rbuf), 0);
	CHECK_EQ(n, -EINPROGRESS);
	CHECK_EQ(cstat(c).inflight, 0);
	say(x->c2s, 'Z');
	cli_request(c, "T0-after");
	st = cstat(c);
	CHECK_EQ(st.late_replies, 2);
	CHECK_EQ(st.msgs_out, 4);
	CHECK_EQ(my_late(x, c), 2);
	chan_send(x->c2s, &st.late_replies, sizeof(st.late_replies));
	cli_count(x, c);
	hear(x->s2c, 't');
}

/* Check reply (data, len, msg) to request i of round r. */
static void check_pipe_reply(int r, int i, const void *data, size_t len, const shmq_msg *m,
			     uint64_t id)
{
	unsigned char want[64];
	size_t wl = pipe_payload(r, i, want);
	CHECK_EQ(m->flags, SHMQ_MSG_REPLY);
	CHECK_EQ(m->id, id);
	CHECK_EQ(m->len, len);
	CHECK_EQ(len, wl + 3);
	CHECK(memcmp(data, "re:", 3) == 0);
	CHECK(memcmp((const unsigned char *)data + 3, want, wl) == 0);
}

/* Round r: 0 copies by id, 1 copies with ANY, 2 zero-copy by id, 3 zero-copy
 * with ANY; 4 mixed: see cli_pipeline_mixed. */
static void cli_pipeline_mixed(shmq_client *c, const uint64_t *ids);

static void cli_pipeline(const struct ctx *x, shmq_client *c, int r)
{
	uint64_t ids[NPIPE];
	int seen[NPIPE] = {0};
	int zc = r == 2 || r == 3, any = r & 1;
	uint64_t late0 = cstat(c).late_replies;
	say(x->c2s, 'p');
	for (int i = 0; i < NPIPE; i++) {
		unsigned char buf[64];
		size_t len = pipe_payload(r, i, buf);
		if (zc) {
			void *p = NULL;
			CHECK_EQ(shmq_client_reserve_request(c, len + (size_t)(i & 1) * 16, &p, IO_MS),
				 0);
			memcpy(p, buf, len);
			ids[i] = 0;
			CHECK_EQ(shmq_client_commit(c, len, &ids[i]), 0);
		} else {
			CHECK_EQ(shmq_client_send_request(c, buf, len, &ids[i], IO_MS), 0);
		}
		for (int k = 0; k < i; k++)
			CHECK(ids[k] != ids[i]);
	}
	CHECK_EQ(cstat(c).inflight, NPIPE);
	chan_send(x->c2s, ids, sizeof(ids));

	for (int k = 0; k < NPIPE && r < 4; k++) {
		uint64_t want = any ? SHMQ_ANY_REQUEST : ids[k];
		shmq_msg m;
		memset(&m, 0xa5, sizeof(m));
		const void *data;
		size_t len;
		if (zc) {
			CHECK_EQ(shmq_client_recv_reply_view(c, want, &m, IO_MS), 0);
			data = m.data;
			len = m.len;
		} else {
			ssize_t n = shmq_client_recv_reply(c, want, rbuf, sizeof(rbuf), &m, IO_MS);
			if (n < 0)
				CHECK_EQ(n, 0);
			data = rbuf;
			len = (size_t)n;
		}
		int i = k;
		if (any) {
			/* Whichever comes first: the server answered last to first. */
			for (i = 0; i < NPIPE && ids[i] != m.id; i++)
				;
			CHECK(i < NPIPE);
			CHECK(!seen[i]);
			CHECK_EQ(i, NPIPE - 1 - k);
		}
		seen[i] = 1;
		check_pipe_reply(r, i, data, len, &m, ids[i]);
		if (zc)
			CHECK_EQ(shmq_client_release(c, &m), 0);
		if (!any && k == 0)
			CHECK_EQ(cstat(c).held, NPIPE - 1); /* the others, kept for later */
	}
	if (r == 4)
		cli_pipeline_mixed(c, ids);
	shmq_client_stats st = cstat(c);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.held, 0);
	/* Each came once: nothing is left to collect. */
	CHECK_EQ(shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, rbuf, sizeof(rbuf), NULL, 0), -ENOENT);
	CHECK_EQ(shmq_client_recv_reply(c, ids[0], rbuf, sizeof(rbuf), NULL, 0), -ENOENT);
	CHECK_EQ(st.late_replies, late0 + (r == 4));
	cli_count(x, c);
}

/* Round 4 (answered last to first): the first by id, which holds the others
 * aside; a view of a held one while another held one in front of it is
 * cancelled; then the rest with ANY, in the order they came. */
static void cli_pipeline_mixed(shmq_client *c, const uint64_t *ids)
{
	enum { VIEWED = 32, CANCELLED = 33 }; /* CANCELLED came just before VIEWED */
	shmq_msg m;
	uint64_t late0 = cstat(c).late_replies;
	ssize_t n = shmq_client_recv_reply(c, ids[0], rbuf, sizeof(rbuf), &m, IO_MS);
	if (n < 0)
		CHECK_EQ(n, 0);
	check_pipe_reply(4, 0, rbuf, (size_t)n, &m, ids[0]);
	CHECK_EQ(cstat(c).held, NPIPE - 1);

	memset(&m, 0xa5, sizeof(m));
	CHECK_EQ(shmq_client_recv_reply_view(c, ids[VIEWED], &m, IO_MS), 0);
	CHECK_EQ(shmq_client_cancel(c, ids[CANCELLED]), 0);
	CHECK_EQ(cstat(c).late_replies, late0 + 1);
	check_pipe_reply(4, VIEWED, m.data, m.len, &m, ids[VIEWED]);
	CHECK_EQ(shmq_client_release(c, &m), 0);
	CHECK_EQ(cstat(c).held, NPIPE - 3);
	CHECK_EQ(shmq_client_recv_reply(c, ids[CANCELLED], rbuf, sizeof(rbuf), &m, 0), -ENOENT);

	for (int i = NPIPE - 1; i >= 1; i--) {
		if (i == VIEWED || i == CANCELLED)
			continue;
		memset(&m, 0xa5, sizeof(m));
		n = shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, rbuf, sizeof(rbuf), &m, IO_MS);
		if (n < 0)
			CHECK_EQ(n, 0);
		check_pipe_reply(4, i, rbuf, (size_t)n, &m, ids[i]);
	}
}

static void cli_pushes(const struct ctx *x, shmq_client *c)
{
	unsigned char p1[PUSH1_LEN], p2[PUSH2_LEN];
	fill_random(p1, sizeof(p1), 31);
	p1[5] = p1[6] = 0;
	fill_random(p2, sizeof(p2), 32);
	memset(p2 + 50, 0, 40);
	shmq_client_stats st0 = cstat(c);

	/* push P1, reply R, push P2. */
	cli_request(c, "R3");
	ssize_t n = shmq_client_recv(c, rbuf, sizeof(rbuf), IO_MS);
	CHECK_EQ(n, sizeof(p1));
	CHECK(memcmp(rbuf, p1, sizeof(p1)) == 0);
	n = shmq_client_recv(c, rbuf, sizeof(rbuf), IO_MS);
	CHECK_EQ(n, sizeof(p2));
	CHECK(memcmp(rbuf, p2, sizeof(p2)) == 0);
	CHECK_EQ(shmq_client_recv(c, rbuf, sizeof(rbuf), 0), -EAGAIN);

	/* Two pushes held aside while waiting, then one after the reply. */
	cli_request(c, "R3b");
	CHECK_EQ(cstat(c).held, 2);
	static const char *const abc[] = {"push-A", "push-B\0", "push-C"};
	for (int i = 0; i < 3; i++) {
		size_t len = strlen(abc[i]) + (i == 1);
		n = shmq_client_recv(c, rbuf, sizeof(rbuf), IO_MS);
		CHECK_EQ(n, len);
		CHECK(memcmp(rbuf, abc[i], len) == 0);
	}

	/* A reply, then a push: recv returns the push, the reply stays. */
	uint64_t id;
	CHECK_EQ(shmq_client_send_request(c, "Q3", 2, &id, IO_MS), 0);
	n = shmq_client_recv(c, rbuf, sizeof(rbuf), IO_MS);
	CHECK_EQ(n, 6);
	CHECK(memcmp(rbuf, "push-3", 6) == 0);
	shmq_msg m;
	check_re(shmq_client_recv_reply(c, id, rbuf, sizeof(rbuf), &m, IO_MS), "Q3", 2);
	CHECK_EQ(m.id, id);

	/* Only a reply queued: nothing for recv. */
	CHECK_EQ(shmq_client_send_request(c, "Q4", 2, &id, IO_MS), 0);
	hear(x->s2c, 'd');
	CHECK_EQ(shmq_client_recv(c, rbuf, sizeof(rbuf), QUIET_MS), -ETIMEDOUT);
	CHECK_EQ(shmq_client_recv_view(c, &m, 0), -EAGAIN);
	check_re(shmq_client_recv_reply(c, id, rbuf, sizeof(rbuf), &m, IO_MS), "Q4", 2);

	/* Pushes by view: an empty one, then a zero-copy one. */
	say(x->c2s, 'v');
	memset(&m, 0xa5, sizeof(m));
	CHECK_EQ(shmq_client_recv_view(c, &m, IO_MS), 0);
	CHECK_EQ(m.len, 0);
	CHECK_EQ(m.flags, 0);
	CHECK_EQ(m.id, 0);
	CHECK_EQ(shmq_client_release(c, &m), 0);
	CHECK_EQ(shmq_client_recv_view(c, &m, IO_MS), 0);
	CHECK_EQ(m.len, 11);
	CHECK(memcmp(m.data, "push-5\0tail", 11) == 0);
	CHECK_EQ(m.flags, 0);
	CHECK_EQ(shmq_client_release(c, &m), 0);

	shmq_client_stats st = cstat(c);
	CHECK_EQ(st.msgs_in - st0.msgs_in, 3 + 4 + 2 + 1 + 2);
	CHECK_EQ(st.late_replies, st0.late_replies);
	CHECK_EQ(st.held, 0);
	CHECK_EQ(st.inflight, 0);
	cli_count(x, c);
}

static void cli_edges(const struct ctx *x, shmq_client *c)
{
	static uint64_t ids[SHMQ_MAX_INFLIGHT];
	static unsigned char big[BUF_CAP];
	uint64_t id, id2;
	shmq_msg m;

	/* Ids never handed out. */
	CHECK_EQ(shmq_client_send_request(c, "C1", 2, &id, IO_MS), 0);
	uint64_t never[] = {id + 1, id + 1000, 0, (uint64_t)1 << 40};
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		CHECK_EQ(shmq_client_recv_reply(c, never[i], rbuf, sizeof(rbuf), &m, IO_MS), -ENOENT);
		CHECK_EQ(shmq_client_recv_reply_view(c, never[i], &m, IO_MS), -ENOENT);
		CHECK_EQ(shmq_client_cancel(c, never[i]), -ENOENT);
	}

	/* Cancel, then the reply comes: discarded, counted. */
	uint64_t late0 = cstat(c).late_replies;
	CHECK_EQ(shmq_client_cancel(c, id), 0);
	CHECK_EQ(shmq_client_cancel(c, id), -ENOENT);
	CHECK_EQ(shmq_client_recv_reply(c, id, rbuf, sizeof(rbuf), &m, IO_MS), -ENOENT);
	CHECK_EQ(cstat(c).inflight, 0);
	say(x->c2s, 'c');
	cli_request(c, "C2");
	CHECK_EQ(cstat(c).late_replies, late0 + 1);
	CHECK_EQ(my_late(x, c), late0 + 1);

	/* Cancel after the reply came and was held aside. */
	CHECK_EQ(shmq_client_send_request(c, "C3", 2, &id, IO_MS), 0);
	CHECK_EQ(shmq_client_send_request(c, "C4", 2, &id2, IO_MS), 0);
	hear(x->s2c, 'r');
	check_re(shmq_client_recv_reply(c, id2, rbuf, sizeof(rbuf), &m, IO_MS), "C4", 2);
	CHECK_EQ(cstat(c).held, 1);
	CHECK_EQ(shmq_client_cancel(c, id), 0);
	shmq_client_stats st = cstat(c);
	CHECK_EQ(st.held, 0);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.late_replies, late0 + 2);
	CHECK_EQ(shmq_client_recv_reply(c, id, rbuf, sizeof(rbuf), &m, IO_MS), -ENOENT);
	CHECK_EQ(shmq_client_cancel(c, id), -ENOENT);
	CHECK_EQ(my_late(x, c), late0 + 2);
	cli_count(x, c);

	/* SHMQ_MAX_INFLIGHT outstanding, then one more: -ENOBUFS, nothing sent. */
	say(x->c2s, 'm');
	for (uint32_t i = 0; i < SHMQ_MAX_INFLIGHT; i++)
		CHECK_EQ(shmq_client_send_request(c, &i, sizeof(i), &ids[i], IO_MS), 0);
	st = cstat(c);
	CHECK_EQ(st.inflight, SHMQ_MAX_INFLIGHT);
	uint32_t extra = UINT32_MAX;
	id = 12345;
	CHECK_EQ(shmq_client_send_request(c, &extra, sizeof(extra), &id, IO_MS), -ENOBUFS);
	CHECK_EQ(id, 12345);
	void *p = NULL;
	CHECK_EQ(shmq_client_reserve_request(c, sizeof(extra), &p, IO_MS), -ENOBUFS);
	CHECK_EQ(shmq_client_request(c, &extra, sizeof(extra), rbuf, sizeof(rbuf), IO_MS),
		 -ENOBUFS);
	CHECK_EQ(cstat(c).msgs_out, st.msgs_out);
	say(x->c2s, 'M');
	cli_count(x, c);
	/* All answered, each once, each with its own index. */
	static unsigned char got[SHMQ_MAX_INFLIGHT];
	for (uint32_t k = 0; k < SHMQ_MAX_INFLIGHT; k++) {
		ssize_t n = shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, rbuf, sizeof(rbuf), &m, IO_MS);
		CHECK_EQ(n, sizeof(uint32_t));
		uint32_t i;
		memcpy(&i, rbuf, sizeof(i));
		CHECK(i < SHMQ_MAX_INFLIGHT);
		CHECK_EQ(got[i], 0);
		got[i] = 1;
		CHECK_EQ(m.id, ids[i]);
	}
	CHECK_EQ(cstat(c).inflight, 0);
	cli_request(c, "after-max");

	/* A reply too large for the buffer: -EMSGSIZE, then whole with ANY. */
	unsigned char want[BIG2_LEN];
	ssize_t n = shmq_client_request(c, "BIG", 3, rbuf, SMALL_CAP, IO_MS);
	CHECK_EQ(n, -EMSGSIZE);
	CHECK_EQ(cstat(c).late_replies, late0 + 2); /* not abandoned */
	memset(&m, 0, sizeof(m));
	n = shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, big, sizeof(big), &m, IO_MS);
	CHECK_EQ(n, BIG_LEN);
	fill_random(want, BIG_LEN, 77);
	CHECK(memcmp(big, want, BIG_LEN) == 0);
	CHECK_EQ(m.flags, SHMQ_MSG_REPLY);
	CHECK_EQ(m.len, BIG_LEN);
	CHECK(m.id > id2); /* a request made after C4 */
	uint64_t big_id = m.id;
	CHECK_EQ(shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, big, sizeof(big), &m, 0), -ENOENT);

	/* The same with another reply held aside before it: the large one
	 * still comes first. */
	CHECK_EQ(shmq_client_send_request(c, "Z5", 2, &id, IO_MS), 0);
	CHECK(id > big_id);
	n = shmq_client_request(c, "BIG2", 4, rbuf, SMALL_CAP, IO_MS);
	CHECK_EQ(n, -EMSGSIZE);
	memset(&m, 0, sizeof(m));
	n = shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, big, sizeof(big), &m, IO_MS);
	CHECK_EQ(n, BIG2_LEN);
	fill_random(want, BIG2_LEN, 78);
	CHECK(memcmp(big, want, BIG2_LEN) == 0);
	CHECK(m.id != id);
	CHECK(m.id > id);
	check_re(shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, rbuf, sizeof(rbuf), &m, IO_MS), "Z5",
		 2);
	CHECK_EQ(m.id, id);
	st = cstat(c);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(st.held, 0);
	CHECK_EQ(st.late_replies, late0 + 2);

	/* Empty payloads and NUL bytes pass unchanged. */
	static const unsigned char nuls[46] = {0, 'a', 0, 0, 'b', 0};
	memset(rbuf, 0xee, 8);
	CHECK_EQ(shmq_client_request(c, NULL, 0, rbuf, sizeof(rbuf), IO_MS), 0);
	CHECK_EQ(rbuf[0], 0xee);
	check_re(shmq_client_request(c, nuls, sizeof(nuls), rbuf, sizeof(rbuf), IO_MS), nuls,
		 sizeof(nuls));
	CHECK_EQ(shmq_client_reserve_request(c, 0, &p, IO_MS), 0);
	CHECK_EQ(shmq_client_commit(c, 0, &id), 0);
	memset(&m, 0xa5, sizeof(m));
	CHECK_EQ(shmq_client_recv_reply_view(c, id, &m, IO_MS), 0);
	CHECK_EQ(m.len, 0);
	CHECK_EQ(m.id, id);
	CHECK_EQ(m.flags, SHMQ_MSG_REPLY);
	CHECK_EQ(shmq_client_release(c, &m), 0);
	CHECK_EQ(shmq_client_send(c, NULL, 0, IO_MS), 0);
	n = shmq_client_recv(c, rbuf, sizeof(rbuf), IO_MS);
	CHECK_EQ(n, 3);
	CHECK(memcmp(rbuf, "\0\0\0", 3) == 0);

	/* The server cannot answer a one-way message: nothing comes of it. */
	st = cstat(c);
	CHECK_EQ(shmq_client_send(c, "oneway", 6, IO_MS), 0);
	cli_request(c, "not-a-request-any-more");
	n = shmq_client_recv(c, rbuf, sizeof(rbuf), IO_MS);
	CHECK_EQ(n, 11);
	CHECK(memcmp(rbuf, "after-inval", 11) == 0);
	shmq_client_stats st2 = cstat(c);
	CHECK_EQ(st2.msgs_in, st.msgs_in + 2);
	CHECK_EQ(st2.late_replies, st.late_replies);
	CHECK_EQ(st2.held, 0);
	CHECK_EQ(shmq_client_recv(c, rbuf, sizeof(rbuf), 0), -EAGAIN);
	cli_count(x, c);
}

static void cli_reconnect(const struct ctx *x, shmq_client **cp)
{
	shmq_client *c = *cp;
	uint64_t id;
	CHECK_EQ(shmq_client_send_request(c, "S5-old", 6, &id, IO_MS), 0);
	hear(x->s2c, 'g');
	shmq_client_id old = shmq_client_self(c);
	CHECK_EQ(shmq_client_close(c), 0);
	*cp = NULL;
	say(x->c2s, 'x');
	hear(x->s2c, 'n');
	CHECK_EQ(shmq_client_connect(&c, &x->cfg), 0);
	*cp = c;
	shmq_client_id now = shmq_client_self(c);
	CHECK_EQ(now.slot, old.slot);
	CHECK(now.gen != old.gen);
	chan_send(x->c2s, &now, sizeof(now));
	cli_request(c, "S5-new");
	ssize_t n = shmq_client_recv(c, rbuf, sizeof(rbuf), IO_MS);
	CHECK_EQ(n, 7);
	CHECK(memcmp(rbuf, "S5-mark", 7) == 0);
	/* Nothing else came: not the stale reply, not the stale push. */
	CHECK_EQ(shmq_client_recv(c, rbuf, sizeof(rbuf), QUIET_MS), -ETIMEDOUT);
	shmq_client_stats st = cstat(c);
	CHECK_EQ(st.late_replies, 0);
	CHECK_EQ(st.msgs_in, 2);
	CHECK_EQ(st.held, 0);
	CHECK_EQ(my_late(x, c), 0);
	CHECK_EQ(shmq_client_close(c), 0);
	*cp = NULL;
	say(x->c2s, 'q');
}

static int client_main(void *arg)
{
	const struct ctx *x = arg;
	hear(x->s2c, 'R');
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &x->cfg), 0);
	shmq_client_id self = shmq_client_self(c);
	pid_t pid = getpid();
	chan_send(x->c2s, &self, sizeof(self));
	chan_send(x->c2s, &pid, sizeof(pid));

	cli_timeouts(x, c);
	for (int r = 0; r < 5; r++)
		cli_pipeline(x, c, r);
	cli_pushes(x, c);
	cli_edges(x, c);
	cli_reconnect(x, &c);
	return 0;
}

/* ---- driver ----------------------------------------------------------------- */

static void run(int posix)
{
	static struct ctx x;
	uint64_t t0 = now_ns();
	x.cfg = test_config(posix, posix);
	x.cfg.slots = 1; /* a reconnecting client gets the same slot back */
	ep_track(&x.cfg);
	x.c2s = chan_new();
	x.s2c = chan_new();
	pid_t srv = spawn(server_main, &x, 30);
	pid_t cli = spawn(client_main, &x, 30);
	kid_wait(cli, 20000);
	kid_wait(srv, 5000);
	/* The server removed its endpoint; nothing is left. */
	check_nothing_left(&x.cfg);
	CHECK_EQ(shmq_remove(&x.cfg, 0), -ENOENT);
	chan_close(&x.c2s);
	chan_close(&x.s2c);
	printf("%s: correlation checks passed in %.2f s\n", posix ? "posix" : "sysv",
	       (double)(now_ns() - t0) / 1e9);
}

int main(void)
{
	setup(60);
	run(0);
	run(1);
	passed = 1;
	return 0;
}
