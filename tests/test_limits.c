/* SPDX-License-Identifier: MIT */
/*
 * Limits and refusals, with real client and server processes:
 *  - a message one byte too large: -EMSGSIZE on both sides and nothing sent;
 *    exactly the largest size passes, byte for byte;
 *  - every slot taken: the next client gets -EUSERS at once, and a slot
 *    freed by a leaving client can be taken again;
 *  - a full ring, both ways: -EAGAIN without a timeout, -ETIMEDOUT after it
 *    (not before, not much after), and once the reader reads, every message
 *    arrives, nothing dropped;
 *  - a client that closes with messages queued loses none of them;
 *  - bad configurations: -EINVAL; no endpoint: -ENOENT; a second server on a
 *    live endpoint: -EADDRINUSE;
 *  - shmq_strerror() has words for every code, known or not.
 */
#include "harness.h"
#include "proc.h"

#include <limits.h>

#define IO_MS	   10000 /* any one send or receive; only a bug comes near it */
#define TIMEOUT_MS 200	 /* the timeout under test */
#define SLACK_MS   1500	 /* how late a timeout may fire on a loaded machine */
#define RING	   4096u
#define MSG	   100u /* message size when filling a ring */

/* ---- helpers --------------------------------------------------------------- */

struct lim {
	shmq_config cfg;
	struct chan to_cli[2], from_cli;
	int who;
};

static shmq_config base[2]; /* this test's System V and POSIX endpoints */

static shmq_config config(int posix, unsigned slots, size_t ring)
{
	shmq_config cfg = base[posix];
	cfg.slots = slots;
	cfg.ring_size = ring;
	return cfg;
}

static shmq_server *server_up(const shmq_config *cfg)
{
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, cfg), 0);
	own_srv = s;
	return s;
}

static void server_down(shmq_server *s)
{
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
}

static shmq_client *client_up(const shmq_config *cfg)
{
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, cfg), 0);
	return c;
}

static void check_pattern(const void *p, size_t len, uint64_t seed)
{
	static unsigned char exp[1u << 16];
	CHECK(len <= sizeof(exp));
	fill_random(exp, len, seed);
	CHECK(memcmp(p, exp, len) == 0);
}

static uint64_t ms_since(uint64_t t0)
{
	return (now_ns() - t0) / 1000000u;
}

/* A call with a timeout failed with -ETIMEDOUT: not early, not much late. */
static void check_late(uint64_t elapsed_ns, const char *what)
{
	uint64_t ms = elapsed_ns / 1000000u;
	if (elapsed_ns < (uint64_t)TIMEOUT_MS * 1000000u || ms > TIMEOUT_MS + SLACK_MS) {
		fprintf(stderr, "%s: -ETIMEDOUT after %llu ms for a %d ms timeout\n", what,
			(unsigned long long)ms, TIMEOUT_MS);
		exit(1);
	}
}

/* ---- message size -------------------------------------------------------- */

static int msgsize_client(void *arg)
{
	static unsigned char buf[2 * RING];
	const struct lim *l = arg;
	shmq_client *c = client_up(&l->cfg);
	size_t max = shmq_client_max_msg(c);
	CHECK(max >= RING / 4 && max < RING);
	fill_random(buf, max + 1, 11);
	void *p;
	CHECK_EQ(shmq_client_send(c, buf, max + 1, IO_MS), -EMSGSIZE);
	CHECK_EQ(shmq_client_send(c, buf, max + 1, 0), -EMSGSIZE);
	/* 2^32 + 5: a length cut to 32 bits somewhere would send 5 bytes. */
	CHECK_EQ(shmq_client_send(c, buf, ((size_t)1 << 32) + 5, 0), -EMSGSIZE);
	CHECK_EQ(shmq_client_request(c, buf, max + 1, buf, sizeof(buf), IO_MS), -EMSGSIZE);
	CHECK_EQ(shmq_client_reserve(c, max + 1, &p, IO_MS), -EMSGSIZE);
	CHECK_EQ(shmq_client_send(c, buf, max, IO_MS), 0);
	uint64_t m64 = max;
	CHECK_EQ(shmq_client_send(c, &m64, sizeof(m64), IO_MS), 0);

	CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), IO_MS), max);
	check_pattern(buf, max, 12);
	CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), IO_MS), 5);
	CHECK(memcmp(buf, "after", 5) == 0);
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

/* One byte too many is refused on both sides, and nothing goes out: the next
 * message received is the next one sent. Exactly the maximum passes. */
static void test_msgsize(int posix)
{
	static unsigned char buf[2 * RING];
	static struct lim l;
	l.cfg = config(posix, 2, RING);
	shmq_server *s = server_up(&l.cfg);
	size_t max = shmq_server_max_msg(s);
	pid_t kid = spawn(msgsize_client, &l, 30);

	shmq_msg m;
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), &m, IO_MS), max);
	check_pattern(buf, max, 11);
	uint64_t cmax = 0;
	CHECK_EQ(shmq_server_recv(s, &cmax, sizeof(cmax), NULL, IO_MS), sizeof(cmax));
	CHECK_EQ(cmax, max); /* both sides agree on the limit */

	void *p;
	fill_random(buf, max + 1, 12);
	CHECK_EQ(shmq_server_send(s, m.from, buf, max + 1, IO_MS), -EMSGSIZE);
	CHECK_EQ(shmq_server_send(s, m.from, buf, ((size_t)1 << 32) + 5, 0), -EMSGSIZE);
	CHECK_EQ(shmq_server_reserve(s, m.from, max + 1, &p, IO_MS), -EMSGSIZE);
	CHECK_EQ(shmq_server_send(s, m.from, buf, max, IO_MS), 0);
	CHECK_EQ(shmq_server_send(s, m.from, "after", 5, IO_MS), 0);
	kid_wait(kid, 10000);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, 0), -EAGAIN);
	server_down(s);
	printf("%s: message size: %zu passes, %zu is refused both ways\n", posix ? "posix" : "sysv",
	       max, max + 1);
}

/* ---- slots ----------------------------------------------------------------- */

static int slot_holder(void *arg)
{
	const struct lim *l = arg;
	shmq_client *c = client_up(&l->cfg);
	char me = (char)('A' + l->who), cmd;
	CHECK_EQ(shmq_client_send(c, &me, 1, IO_MS), 0);
	chan_send(l->from_cli, &me, 1);
	chan_recv(l->to_cli[l->who], &cmd, 1, 30000);
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

static int slot_refused(void *arg)
{
	const struct lim *l = arg;
	shmq_client *c = NULL;
	uint64_t t0 = now_ns();
	CHECK_EQ(shmq_client_connect(&c, &l->cfg), -EUSERS);
	uint64_t ms = ms_since(t0);
	CHECK(ms < 1000);
	chan_send(l->from_cli, &ms, sizeof(ms));
	return 0;
}

/* Retry while the server has not yet freed the slot its last client left. */
static int slot_taker(void *arg)
{
	const struct lim *l = arg;
	shmq_client *c = NULL;
	uint64_t end = now_ns() + 5000000000ull;
	int rc;
	while ((rc = shmq_client_connect(&c, &l->cfg)) == -EUSERS && now_ns() < end)
		usleep(1000); /* polling with a deadline for the slot to be freed */
	CHECK_EQ(rc, 0);
	CHECK_EQ(shmq_client_send(c, "D", 1, IO_MS), 0);
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

static void test_slots(int posix)
{
	static struct lim l;
	l.cfg = config(posix, 2, RING);
	for (int i = 0; i < 2; i++)
		l.to_cli[i] = chan_new();
	l.from_cli = chan_new();
	shmq_server *s = server_up(&l.cfg);
	pid_t holder[2];
	for (l.who = 0; l.who < 2; l.who++)
		holder[l.who] = spawn(slot_holder, &l, 60);
	char got[2], msg[2];
	chan_recv(l.from_cli, got, 2, IO_MS);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(shmq_server_recv(s, &msg[i], 1, NULL, IO_MS), 1);
	CHECK(msg[0] != msg[1] && (msg[0] == 'A' || msg[0] == 'B') &&
	      (msg[1] == 'A' || msg[1] == 'B'));
	CHECK_EQ(shmq_server_clients(s, NULL, 0), 2);

	/* Full: the third is turned away at once. */
	uint64_t refused_ms;
	pid_t third = spawn(slot_refused, &l, 30);
	chan_recv(l.from_cli, &refused_ms, sizeof(refused_ms), IO_MS);
	kid_wait(third, IO_MS);

	/* A leaves; once the server has seen it go, D takes its slot. */
	chan_send(l.to_cli[0], "c", 1);
	kid_wait(holder[0], IO_MS);
	pid_t taker = spawn(slot_taker, &l, 30);
	char d = 0;
	CHECK_EQ(shmq_server_recv(s, &d, 1, NULL, IO_MS), 1);
	CHECK_EQ(d, 'D');
	kid_wait(taker, IO_MS);
	chan_send(l.to_cli[1], "c", 1);
	kid_wait(holder[1], IO_MS);
	CHECK_EQ(shmq_server_recv(s, &d, 1, NULL, 0), -EAGAIN);
	server_down(s);
	for (int i = 0; i < 2; i++)
		chan_close(&l.to_cli[i]);
	chan_close(&l.from_cli);
	printf("%s: slots: the third client got -EUSERS in %llu ms; a freed slot is taken again\n",
	       posix ? "posix" : "sysv", (unsigned long long)refused_ms);
}

/* ---- a full ring, both ways ---------------------------------------------- */

struct fill_report {
	uint32_t queued;   /* messages that fitted */
	uint64_t timed_ns; /* how long the timed send took to fail */
};

static int send_msg(shmq_client *c, uint32_t i, int timeout_ms)
{
	unsigned char buf[MSG];
	fill_random(buf, MSG, 5000 + i);
	return shmq_client_send(c, buf, MSG, timeout_ms);
}

static int full_request_client(void *arg)
{
	const struct lim *l = arg;
	shmq_client *c = client_up(&l->cfg);
	struct fill_report rep = {0, 0};
	int rc;
	while ((rc = send_msg(c, rep.queued, 0)) == 0 && rep.queued < 100000)
		rep.queued++;
	CHECK_EQ(rc, -EAGAIN);
	CHECK(rep.queued > 0);
	uint64_t t0 = now_ns();
	CHECK_EQ(send_msg(c, rep.queued, TIMEOUT_MS), -ETIMEDOUT);
	rep.timed_ns = now_ns() - t0;
	check_late(rep.timed_ns, "client send into a full ring");
	CHECK_EQ(send_msg(c, rep.queued, 0), -EAGAIN);
	chan_send(l->from_cli, &rep, sizeof(rep));
	/* These wait for the server to make room. */
	CHECK_EQ(send_msg(c, rep.queued, IO_MS), 0);
	CHECK_EQ(send_msg(c, rep.queued + 1, IO_MS), 0);
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

/* The server does not read until the client has met a full ring. */
static void test_full_request_ring(int posix)
{
	static struct lim l;
	l.cfg = config(posix, 2, RING);
	l.from_cli = chan_new();
	shmq_server *s = server_up(&l.cfg);
	pid_t kid = spawn(full_request_client, &l, 30);
	struct fill_report rep;
	chan_recv(l.from_cli, &rep, sizeof(rep), IO_MS);
	unsigned char buf[2 * MSG];
	for (uint32_t i = 0; i < rep.queued + 2; i++) {
		CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, IO_MS), MSG);
		check_pattern(buf, MSG, 5000 + i);
	}
	kid_wait(kid, IO_MS);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, 0), -EAGAIN);
	server_down(s);
	chan_close(&l.from_cli);
	printf("%s: full request ring: %u queued, -EAGAIN, -ETIMEDOUT after %.1f ms of %d, "
	       "then all %u delivered\n",
	       posix ? "posix" : "sysv", rep.queued, (double)rep.timed_ns / 1e6, TIMEOUT_MS,
	       rep.queued + 2);
}

static int full_reply_client(void *arg)
{
	const struct lim *l = arg;
	shmq_client *c = client_up(&l->cfg);
	CHECK_EQ(shmq_client_send(c, "hi", 2, IO_MS), 0);
	uint32_t queued;
	chan_recv(l->to_cli[0], &queued, sizeof(queued), IO_MS);
	unsigned char buf[2 * MSG];
	for (uint32_t i = 0; i < queued + 2; i++) {
		CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), IO_MS), MSG);
		check_pattern(buf, MSG, 7000 + i);
	}
	CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), 0), -EAGAIN);
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

static int reply_msg(shmq_server *s, shmq_client_id to, uint32_t i, int timeout_ms)
{
	unsigned char buf[MSG];
	fill_random(buf, MSG, 7000 + i);
	return shmq_server_send(s, to, buf, MSG, timeout_ms);
}

/* The client does not read until the server has met a full ring. */
static void test_full_reply_ring(int posix)
{
	static struct lim l;
	l.cfg = config(posix, 2, RING);
	l.to_cli[0] = chan_new();
	shmq_server *s = server_up(&l.cfg);
	pid_t kid = spawn(full_reply_client, &l, 30);
	char hi[2];
	shmq_msg m;
	CHECK_EQ(shmq_server_recv(s, hi, sizeof(hi), &m, IO_MS), 2);
	uint32_t queued = 0;
	int rc;
	while ((rc = reply_msg(s, m.from, queued, 0)) == 0 && queued < 100000)
		queued++;
	CHECK_EQ(rc, -EAGAIN);
	CHECK(queued > 0);
	uint64_t t0 = now_ns();
	CHECK_EQ(reply_msg(s, m.from, queued, TIMEOUT_MS), -ETIMEDOUT);
	uint64_t timed_ns = now_ns() - t0;
	check_late(timed_ns, "server send into a full ring");
	CHECK_EQ(reply_msg(s, m.from, queued, 0), -EAGAIN);
	chan_send(l.to_cli[0], &queued, sizeof(queued));
	/* These wait for the client to make room. */
	CHECK_EQ(reply_msg(s, m.from, queued, IO_MS), 0);
	CHECK_EQ(reply_msg(s, m.from, queued + 1, IO_MS), 0);
	kid_wait(kid, IO_MS);
	server_down(s);
	chan_close(&l.to_cli[0]);
	printf("%s: full reply ring: %u queued, -EAGAIN, -ETIMEDOUT after %.1f ms of %d, "
	       "then all %u delivered\n",
	       posix ? "posix" : "sysv", queued, (double)timed_ns / 1e6, TIMEOUT_MS, queued + 2);
}

/* ---- leaving with messages queued ------------------------------------------ */

#define LEAVE_MSGS 100u

static size_t leave_len(uint32_t i)
{
	return (i * 37u) % 300u;
}

/* Send everything, close at once: nothing may be lost on the way out. The
 * server may or may not have seen us connect (greet). */
static int leaver(void *arg)
{
	static unsigned char buf[300];
	const struct lim *l = arg;
	shmq_client *c = client_up(&l->cfg);
	if (l->who) {
		char go;
		CHECK_EQ(shmq_client_send(c, "hi", 2, IO_MS), 0);
		chan_recv(l->to_cli[0], &go, 1, IO_MS);
	}
	for (uint32_t i = 0; i < LEAVE_MSGS; i++) {
		fill_random(buf, leave_len(i), 9000 + i);
		CHECK_EQ(shmq_client_send(c, buf, leave_len(i), IO_MS), 0);
	}
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

static void test_leave(int posix, int greet)
{
	static unsigned char buf[512];
	static struct lim l;
	l.cfg = config(posix, 1, SHMQ_DEFAULT_RING_SIZE);
	l.who = greet;
	l.to_cli[0] = chan_new();
	shmq_server *s = server_up(&l.cfg);
	pid_t kid = spawn(leaver, &l, 30);
	if (greet) {
		CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, IO_MS), 2);
		CHECK_EQ(shmq_server_clients(s, NULL, 0), 1);
		chan_send(l.to_cli[0], "g", 1);
	}
	/* The client has closed and its process is gone before we read. */
	kid_wait(kid, IO_MS);
	for (uint32_t i = 0; i < LEAVE_MSGS; i++) {
		CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, IO_MS), leave_len(i));
		check_pattern(buf, leave_len(i), 9000 + i);
	}
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, TIMEOUT_MS), -ETIMEDOUT);
	CHECK_EQ(shmq_server_clients(s, NULL, 0), 0);
	/* Its only slot is free again. */
	shmq_client *c = client_up(&l.cfg);
	CHECK_EQ(shmq_client_close(c), 0);
	server_down(s);
	chan_close(&l.to_cli[0]);
	printf("%s: a client that closed with %u messages queued (%s) lost none\n",
	       posix ? "posix" : "sysv", LEAVE_MSGS,
	       greet ? "after the server saw it" : "before the server saw it");
}

/* ---- refusals ------------------------------------------------------------- */

/* Counted, not fatal: one run names every configuration that got through. */
static int accepted;

static void expect_einval(const shmq_config *cfg, const char *what, int client_too)
{
	shmq_server *s = NULL;
	shmq_client *c = NULL;
	int rc = shmq_server_create(&s, cfg);
	if (rc != -EINVAL) {
		fprintf(stderr, "%s: shmq_server_create gave %d (%s), not -EINVAL\n", what, rc,
			shmq_strerror(rc));
		if (rc == 0)
			shmq_server_close(s);
		accepted++;
	}
	rc = client_too ? shmq_client_connect(&c, cfg) : -EINVAL;
	if (rc != -EINVAL) {
		fprintf(stderr, "%s: shmq_client_connect gave %d (%s), not -EINVAL\n", what, rc,
			shmq_strerror(rc));
		if (rc == 0)
			shmq_client_close(c);
		accepted++;
	}
}

static void bad_geometry(int posix)
{
	static const size_t rings[] = {0,
				       1,
				       255,
				       1000,
				       3 * 1024,
				       SHMQ_MIN_RING_SIZE / 2,
				       SHMQ_MIN_RING_SIZE - 1,
				       SHMQ_MIN_RING_SIZE + 8,
				       (size_t)SHMQ_MAX_RING_SIZE * 2,
				       (size_t)1 << 40,
				       ((size_t)1 << 32) + 4096,
				       SIZE_MAX};
	static const unsigned slots[] = {0, SHMQ_MAX_SLOTS + 1, UINT_MAX};
	char what[64];
	for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		shmq_config cfg = config(posix, 2, rings[i]);
		snprintf(what, sizeof(what), "ring_size %zu", rings[i]);
		expect_einval(&cfg, what, 0);
	}
	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		shmq_config cfg = config(posix, slots[i], RING);
		snprintf(what, sizeof(what), "slots %u", slots[i]);
		expect_einval(&cfg, what, 0);
	}
}

/* A mode must give the owner read and write, and hold nothing but the
 * permission bits. */
static void bad_modes(int posix)
{
	static const unsigned modes[] = {0,    0400,  0200,  0044,  0066,	   0070,
					 0007, 01600, 02600, 04600, 0x10000 | 0600};
	char what[64];
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		shmq_config cfg = config(posix, 2, RING);
		cfg.mode = modes[i];
		snprintf(what, sizeof(what), "%s mode 0%o", posix ? "posix" : "sysv", modes[i]);
		expect_einval(&cfg, what, 1);
	}
}

static void bad_names(void)
{
	static char long_name[301], too_long[SHMQ_NAME_MAX + 2];
	memset(long_name, 'a', 300);
	memset(too_long, 'b', SHMQ_NAME_MAX + 1);
	const char *names[] = {"a/b", "",    "..",  ".",  "/",	     "//x",   "/a/b",
			       "/..", "a b", "a\n", "x/", long_name, too_long};
	char what[64];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		shmq_config cfg = config(1, 2, RING);
		cfg.name = names[i];
		snprintf(what, sizeof(what), "name \"%.20s\" (%zu chars)", names[i],
			 strlen(names[i]));
		expect_einval(&cfg, what, 1);
	}
	shmq_config cfg = config(0, 2, RING);
	cfg.key = 0; /* IPC_PRIVATE: nobody else could find it */
	expect_einval(&cfg, "key 0", 1);
}

/* The limits themselves are fine: the longest name, the smallest ring, the
 * most slots. */
static void good_edges(void)
{
	static char name[SHMQ_NAME_MAX + 2];
	int n = snprintf(name, sizeof(name), "/%s-", test_name(2));
	memset(name + n, 'n', sizeof(name) - 1 - (size_t)n);
	name[sizeof(name) - 1] = '\0';
	shmq_config cfg = config(1, 1, RING);
	cfg.name = name;
	ep_track(&cfg);
	shmq_server *s = server_up(&cfg);
	shmq_client *c = client_up(&cfg);
	CHECK_EQ(shmq_client_close(c), 0);
	server_down(s);

	cfg = config(0, SHMQ_MAX_SLOTS, SHMQ_MIN_RING_SIZE);
	s = server_up(&cfg);
	c = client_up(&cfg);
	CHECK_EQ(shmq_client_close(c), 0);
	server_down(s);
}

static void test_bad_config(void)
{
	shmq_config cfg = config(0, 2, RING);
	shmq_server *s = NULL;
	shmq_client *c = NULL;
	CHECK_EQ(shmq_server_create(NULL, &cfg), -EINVAL);
	CHECK_EQ(shmq_server_create(&s, NULL), -EINVAL);
	CHECK_EQ(shmq_client_connect(NULL, &cfg), -EINVAL);
	CHECK_EQ(shmq_client_connect(&c, NULL), -EINVAL);
	for (int posix = 0; posix <= 1; posix++) {
		bad_geometry(posix);
		bad_modes(posix);
	}
	bad_names();
	good_edges();
	printf("bad configurations: %d accepted; longest name, smallest ring, most slots: fine\n",
	       accepted);
}

static void test_no_endpoint(int posix)
{
	shmq_config cfg = config(posix, 2, RING);
	shmq_client *c = NULL;
	CHECK_EQ(shmq_client_connect(&c, &cfg), -ENOENT);
	shmq_server *s = server_up(&cfg);
	server_down(s);
	CHECK_EQ(shmq_client_connect(&c, &cfg), -ENOENT); /* gone with its server */
}

static int second_server(void *arg)
{
	const struct lim *l = arg;
	shmq_server *s = NULL;
	CHECK_EQ(shmq_server_create(&s, &l->cfg), -EADDRINUSE);
	/* The refused server did no harm: the first one still serves. */
	shmq_client *c = client_up(&l->cfg);
	CHECK_EQ(shmq_client_send(c, "ok", 2, IO_MS), 0);
	CHECK_EQ(shmq_client_close(c), 0);
	return 0;
}

static void test_addrinuse(int posix)
{
	static struct lim l;
	l.cfg = config(posix, 2, RING);
	shmq_server *s = server_up(&l.cfg), *s2 = NULL;
	CHECK_EQ(shmq_server_create(&s2, &l.cfg), -EADDRINUSE);
	pid_t kid = spawn(second_server, &l, 30);
	char buf[4];
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, IO_MS), 2);
	CHECK(memcmp(buf, "ok", 2) == 0);
	kid_wait(kid, IO_MS);
	server_down(s);
	/* Free again once its server has closed. */
	s = server_up(&l.cfg);
	server_down(s);
}

static void test_strerror(void)
{
	static const int codes[] = {ENOENT,   EADDRINUSE, EEXIST,   EACCES, EUSERS,
				    EMSGSIZE, EPIPE,	  ENOTCONN, EPROTO};
	const size_t n = sizeof(codes) / sizeof(codes[0]);
	for (int e = -5000; e <= 5000; e++) {
		const char *s = shmq_strerror(e);
		CHECK(s && *s);
	}
	static const int odd[] = {INT_MIN, INT_MIN + 1, INT_MAX, 1 << 20, -(1 << 20)};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		const char *s = shmq_strerror(odd[i]);
		CHECK(s && *s);
	}
	/* The codes shmq.h lists each say something of their own, either sign. */
	for (size_t i = 0; i < n; i++) {
		CHECK(strcmp(shmq_strerror(-codes[i]), shmq_strerror(codes[i])) == 0);
		for (size_t k = i + 1; k < n; k++)
			CHECK(strcmp(shmq_strerror(-codes[i]), shmq_strerror(-codes[k])) != 0);
	}
}

int main(void)
{
	setup(100);
	for (int posix = 0; posix <= 1; posix++) {
		base[posix] = test_config(posix, posix);
		ep_track(&base[posix]);
	}
	test_bad_config();
	for (int posix = 0; posix <= 1; posix++) {
		test_no_endpoint(posix);
		test_addrinuse(posix);
		test_msgsize(posix);
		test_full_request_ring(posix);
		test_full_reply_ring(posix);
		test_slots(posix);
		test_leave(posix, 0);
		test_leave(posix, 1);
	}
	for (int i = 0; i < neps; i++)
		CHECK_EQ(shmq_remove(&eps[i], 0), -ENOENT);
	test_strerror(); /* late: UBSan aborts on a bug there, with nothing to clean */
	/* Last, so that the rest runs: each one accepted is named above. */
	CHECK_EQ(accepted, 0);
	passed = 1;
	return 0;
}
