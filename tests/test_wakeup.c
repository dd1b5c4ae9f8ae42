/* SPDX-License-Identifier: MIT */
/*
 * The futex protocol across processes, with both sides sleeping at once
 * (spin_us = 0), spinning the default while, or never sleeping
 * (SHMQ_SPIN_FOREVER), and mixed.
 *
 * A lost wake-up does not hang shmq: the sleeper wakes at the end of its
 * 100 ms slice and finds the message. So it shows as a stall: every round
 * trip of a ping-pong, every send into and receive from a ring that holds
 * three messages, is timed, and none may take STALL_MS or more. That is a
 * correctness check on missed wakes, not a performance bound: a healthy
 * round trip takes microseconds.
 *
 * And a receive with a timeout fails with -ETIMEDOUT once the timeout has
 * passed: not before, and not much after.
 */
#include "harness.h"
#include "proc.h"

#define N_RTT	   20000u
#define N_STREAM   20000u
#define STALL_MS   90u	 /* under the 100 ms slice a lost wake-up costs */
#define IO_MS	   10000 /* any one call; only a bug comes near it */
#define TIMEOUT_MS 250	 /* not a multiple of the slice */
#define SLACK_MS   1000	 /* how late a timeout may fire on a loaded machine */
#define STREAM_MSG 64u	 /* three fit in the smallest ring */

/* ---- latency bookkeeping -------------------------------------------------- */

struct lat {
	uint64_t n, sum_ns, max_ns;
	uint32_t stalls; /* calls that took STALL_MS or more */
};

static void lat_add(struct lat *l, uint64_t t0)
{
	uint64_t d = now_ns() - t0;
	l->n++;
	l->sum_ns += d;
	if (d > l->max_ns)
		l->max_ns = d;
	if (d >= (uint64_t)STALL_MS * 1000000u && ++l->stalls >= 3) {
		/* Fail fast: with lost wake-ups the run would take ages. */
		fprintf(stderr, "call %llu took %.1f ms, the third over %u ms: lost wake-ups?\n",
			(unsigned long long)l->n, (double)d / 1e6, STALL_MS);
		exit(1);
	}
}

static void lat_print(const char *what, const struct lat *l)
{
	printf("    %-34s %6llu calls, mean %7.1f us, max %7.3f ms, %u over %u ms\n", what,
	       (unsigned long long)l->n, l->n ? (double)l->sum_ns / (double)l->n / 1e3 : 0.0,
	       (double)l->max_ns / 1e6, l->stalls, STALL_MS);
}

/* ---- one spin combination: ping-pong, then streams both ways --------------- */

struct wk {
	shmq_config cfg; /* the server's spin_us */
	struct chan ready, result, quit;
};

struct srv_report {
	struct lat up_recv, down_send;
};

static void srv_pingpong(shmq_server *s)
{
	for (;;) {
		shmq_msg m;
		uint64_t v;
		CHECK_EQ(shmq_server_recv_view(s, &m, IO_MS), 0);
		if (m.len == 0) { /* the end */
			CHECK_EQ(shmq_server_release(s, &m), 0);
			return;
		}
		CHECK_EQ(m.len, sizeof(v));
		CHECK_EQ(m.flags, SHMQ_MSG_REQUEST);
		memcpy(&v, m.data, sizeof(v));
		CHECK_EQ(shmq_server_release(s, &m), 0);
		v = v * 3 + 1;
		CHECK_EQ(shmq_server_reply(s, &m, &v, sizeof(v), IO_MS), 0);
	}
}

static void stream_fill(unsigned char *buf, uint64_t i)
{
	memset(buf, (int)(i & 0xff), STREAM_MSG);
	memcpy(buf, &i, sizeof(i));
}

static shmq_client_id srv_stream_up(shmq_server *s, struct lat *l)
{
	unsigned char buf[STREAM_MSG], exp[STREAM_MSG];
	shmq_msg m = {0};
	for (uint64_t i = 0; i < N_STREAM; i++) {
		uint64_t t0 = now_ns();
		CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), &m, IO_MS), STREAM_MSG);
		lat_add(l, t0);
		stream_fill(exp, i);
		CHECK(memcmp(buf, exp, STREAM_MSG) == 0);
	}
	return m.from;
}

static void srv_stream_down(shmq_server *s, shmq_client_id to, struct lat *l)
{
	unsigned char buf[STREAM_MSG];
	for (uint64_t i = 0; i < N_STREAM; i++) {
		stream_fill(buf, i);
		uint64_t t0 = now_ns();
		CHECK_EQ(shmq_server_send(s, to, buf, STREAM_MSG, IO_MS), 0);
		lat_add(l, t0);
	}
}

static int server_main(void *arg)
{
	const struct wk *w = arg;
	struct srv_report rep;
	memset(&rep, 0, sizeof(rep));
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &w->cfg), 0);
	own_srv = s;
	chan_send(w->ready, "r", 1);
	srv_pingpong(s);
	shmq_client_id from = srv_stream_up(s, &rep.up_recv);
	srv_stream_down(s, from, &rep.down_send);
	chan_send(w->result, &rep, sizeof(rep));
	char q;
	chan_recv(w->quit, &q, 1, 60000);
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	return 0;
}

static void cli_pingpong(shmq_client *c, struct lat *l)
{
	for (uint64_t i = 0; i < N_RTT; i++) {
		uint64_t v = 0, t0 = now_ns();
		ssize_t n = shmq_client_request(c, &i, sizeof(i), &v, sizeof(v), IO_MS);
		lat_add(l, t0);
		CHECK_EQ(n, sizeof(v));
		CHECK_EQ(v, i * 3 + 1);
	}
	CHECK_EQ(shmq_client_send(c, NULL, 0, IO_MS), 0);
}

static void cli_stream_up(shmq_client *c, struct lat *l)
{
	unsigned char buf[STREAM_MSG];
	for (uint64_t i = 0; i < N_STREAM; i++) {
		stream_fill(buf, i);
		uint64_t t0 = now_ns();
		CHECK_EQ(shmq_client_send(c, buf, STREAM_MSG, IO_MS), 0);
		lat_add(l, t0);
	}
}

static void cli_stream_down(shmq_client *c, struct lat *l)
{
	unsigned char buf[STREAM_MSG], exp[STREAM_MSG];
	for (uint64_t i = 0; i < N_STREAM; i++) {
		uint64_t t0 = now_ns();
		CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), IO_MS), STREAM_MSG);
		lat_add(l, t0);
		stream_fill(exp, i);
		CHECK(memcmp(buf, exp, STREAM_MSG) == 0);
	}
}

static const char *spin_name(uint32_t spin, char *buf, size_t n)
{
	if (spin == SHMQ_SPIN_FOREVER)
		return "forever";
	snprintf(buf, n, "%u us", spin);
	return buf;
}

/* Fails if any call stalled: each stall is a whole sleep slice lost. */
static uint32_t combo(int posix, uint32_t srv_spin, uint32_t cli_spin)
{
	static struct wk w;
	w.cfg = test_config(posix, posix);
	w.cfg.slots = 1;
	w.cfg.ring_size = SHMQ_MIN_RING_SIZE;
	w.cfg.spin_us = srv_spin;
	w.ready = chan_new();
	w.result = chan_new();
	w.quit = chan_new();
	pid_t kid = spawn(server_main, &w, 90);
	char r;
	chan_recv(w.ready, &r, 1, IO_MS);

	shmq_config cfg = w.cfg;
	cfg.spin_us = cli_spin;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	struct lat rtt = {0}, up_send = {0}, down_recv = {0};
	uint64_t t0 = now_ns();
	cli_pingpong(c, &rtt);
	cli_stream_up(c, &up_send);
	cli_stream_down(c, &down_recv);
	uint64_t total = now_ns() - t0;
	CHECK_EQ(shmq_client_close(c), 0);
	struct srv_report rep;
	chan_recv(w.result, &rep, sizeof(rep), IO_MS);
	chan_send(w.quit, "q", 1);
	kid_wait(kid, IO_MS);
	chan_close(&w.ready);
	chan_close(&w.result);
	chan_close(&w.quit);

	char b1[16], b2[16];
	printf("  %s, server spin %s, client spin %s: %.2f s\n", posix ? "posix" : "sysv",
	       spin_name(srv_spin, b1, sizeof(b1)), spin_name(cli_spin, b2, sizeof(b2)),
	       (double)total / 1e9);
	lat_print("ping-pong round trip", &rtt);
	lat_print("client send, 3-message ring", &up_send);
	lat_print("server recv, 3-message ring", &rep.up_recv);
	lat_print("server send, 3-message ring", &rep.down_send);
	lat_print("client recv, 3-message ring", &down_recv);
	return rtt.stalls + up_send.stalls + rep.up_recv.stalls + rep.down_send.stalls +
	       down_recv.stalls;
}

/* ---- timeouts --------------------------------------------------------------- */

static void check_timeout(const char *what, uint64_t t0, int timeout_ms)
{
	uint64_t d = now_ns() - t0;
	if (d < (uint64_t)timeout_ms * 1000000u ||
	    d > (uint64_t)(timeout_ms + SLACK_MS) * 1000000u) {
		fprintf(stderr, "%s: -ETIMEDOUT after %.3f ms for a %d ms timeout\n", what,
			(double)d / 1e6, timeout_ms);
		exit(1);
	}
}

/* Receives on an endpoint where nobody sends: -EAGAIN at once without a
 * timeout, -ETIMEDOUT once the timeout has passed. */
static void timeouts(uint32_t spin)
{
	static const int ms[] = {1, 37, TIMEOUT_MS};
	shmq_config cfg = test_config(0, 0);
	cfg.spin_us = spin;
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	own_srv = s;
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	unsigned char buf[16];
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, 0), -EAGAIN);
	CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), 0), -EAGAIN);
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint64_t t0 = now_ns();
		CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, ms[i]), -ETIMEDOUT);
		check_timeout("server recv", t0, ms[i]);
		t0 = now_ns();
		CHECK_EQ(shmq_client_recv(c, buf, sizeof(buf), ms[i]), -ETIMEDOUT);
		check_timeout("client recv", t0, ms[i]);
	}
	/* Still usable after all those timeouts. */
	CHECK_EQ(shmq_client_send(c, "x", 1, IO_MS), 0);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, IO_MS), 1);
	CHECK_EQ(shmq_client_close(c), 0);
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
}

int main(void)
{
	static const uint32_t spins[][2] = {
	    {0, 0},
	    {SHMQ_DEFAULT_SPIN_US, SHMQ_DEFAULT_SPIN_US},
	    {SHMQ_SPIN_FOREVER, SHMQ_SPIN_FOREVER},
	    {0, SHMQ_SPIN_FOREVER},
	    {SHMQ_SPIN_FOREVER, 0},
	};
	setup(110);
	for (int posix = 0; posix <= 1; posix++) {
		shmq_config cfg = test_config(posix, posix);
		ep_track(&cfg);
	}
	for (size_t i = 0; i < sizeof(spins) / sizeof(spins[0]); i++) {
		uint32_t timeout_spin = spins[i][0];
		if (spins[i][0] == spins[i][1])
			timeouts(timeout_spin);
	}
	printf("timeouts: -EAGAIN at once, -ETIMEDOUT after 1, 37 and %d ms, both sides, "
	       "every spin\n",
	       TIMEOUT_MS);
	uint32_t stalls = 0;
	for (size_t i = 0; i < sizeof(spins) / sizeof(spins[0]); i++)
		stalls += combo((int)(i & 1), spins[i][0], spins[i][1]);
	if (stalls) {
		fprintf(stderr, "%u calls took %u ms or more: lost wake-ups?\n", stalls, STALL_MS);
		exit(1);
	}
	for (int i = 0; i < neps; i++)
		CHECK_EQ(shmq_remove(&eps[i], 0), -ENOENT);
	passed = 1;
	return 0;
}
