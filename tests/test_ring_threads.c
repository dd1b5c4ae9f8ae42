/* SPDX-License-Identifier: MIT */
/*
 * The SPSC ring and the futex wait protocol under real concurrency, in one
 * process so that ThreadSanitizer sees both sides (it cannot see across
 * processes, nor through two mappings of one segment):
 *  1. ring only: a producer and a consumer thread on ordinary memory, spinning
 *     on -EAGAIN; millions of messages of random length and type (one-way,
 *     request, reply), each carrying its sequence number and a checksum,
 *     checked in order, exactly once, byte for byte, with the id it was
 *     committed with.
 *  2. ring + event (wait.h): the same, but both sides sleep on futexes with
 *     no spinning at all, so every wake-up goes through the waiters-flag
 *     (Dekker) protocol. A lost wake-up shows as a 100 ms sleep slice that
 *     ends without a wake: those are counted and must (almost) never happen.
 *  3. the public API: a server thread and a client thread exchange requests
 *     and replies (two clients in turn, sleeping and spinning; the server
 *     answers with shmq_server_reply), then a one-way stream through a
 *     minimal ring so that the client keeps blocking for room.
 *  4. space the server has consumed reaches a client blocked in send while
 *     the server is itself blocked sending (messages of its own, to a client
 *     that sends one-way messages).
 * Sanitizer builds run fewer ring messages (200k instead of 1M per ring).
 */
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "atomics.h"
#include "layout.h"
#include "ring.h"
#include "wait.h"


/* Sanitizers slow the byte-checking down: fewer ring messages there. */
#define SCALE(n) (SANITIZED ? (n) / 5 : (n))
#define WAIT_MS	 10000 /* no single wait in this test may take longer */
/* On a loaded machine a phase stops early, at a message boundary, once it
 * has used its time budget (so that the whole test stays well under a
 * minute even under ThreadSanitizer); it must still have passed MIN_MSGS. */
#define SEC	 1000000000ull
#define MIN_MSGS 10000u

static uint64_t phase_deadline; /* hard: fail */
static uint64_t phase_budget;	/* soft: stop early */
static uint64_t budget_ns;

static void phase_start(unsigned seconds)
{
	uint64_t now = now_ns();
	budget_ns = seconds * SEC;
	phase_budget = now + budget_ns;
	phase_deadline = now + 60 * SEC;
}

/* Time to stop, after done messages, if the soft deadline until is past? */
static int over_budget(uint64_t done, uint64_t until)
{
	return done >= MIN_MSGS && (done & 255) == 0 && now_ns() > until;
}

/* ---- messages ------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 32);
}

/* Length of message seq: empty, maximal, anything, and mostly short. */
static uint32_t len_for(uint64_t seq, uint32_t max)
{
	uint64_t h = mix(seq);
	switch (h % 8) {
	case 0:
		return 0;
	case 1:
		return max;
	case 2:
	case 3:
		return (uint32_t)((h >> 8) % (max + 1));
	default:
		return (uint32_t)((h >> 8) % (max < 64 ? max + 1 : 64));
	}
}

/* Type of message seq: one-way, request or reply. */
static uint32_t type_for(uint64_t seq)
{
	static const uint32_t types[] = {0, REC_REQUEST, REC_REPLY};
	return types[(mix(seq) >> 8) % 3];
}

/* The id committed with message seq, whatever its type (a one-way record
 * must not store it: the consumer must see 0). Both halves vary. */
static uint64_t id_for(uint64_t seq)
{
	return mix(seq ^ 0x1d1d1d1d1d1d1d1dull);
}

static uint64_t id_seen(uint64_t seq)
{
	return type_for(seq) ? id_for(seq) : 0;
}

/* From 16 bytes on: sequence number, FNV-1a of the rest, then bytes from
 * fill_random(seq). Shorter messages are just the random bytes. */
static void make_payload(unsigned char *p, uint32_t len, uint64_t seq)
{
	if (len < 16) {
		fill_random(p, len, seq);
		return;
	}
	fill_random(p + 16, len - 16, seq);
	uint64_t h = fnv1a(p + 16, len - 16);
	memcpy(p, &seq, 8);
	memcpy(p + 8, &h, 8);
}

static void check_payload(const unsigned char *p, uint32_t len, uint64_t seq,
			  unsigned char *scratch)
{
	if (len < 16) {
		fill_random(scratch, len, seq);
		CHECK(memcmp(p, scratch, len) == 0);
		return;
	}
	uint64_t s, h;
	memcpy(&s, p, 8);
	memcpy(&h, p + 8, 8);
	if (s != seq) {
		fprintf(stderr, "message %llu arrived where %llu was due\n", (unsigned long long)s,
			(unsigned long long)seq);
		exit(1);
	}
	CHECK(h == fnv1a(p + 16, len - 16));
	fill_random(scratch, len - 16, seq);
	CHECK(memcmp(p + 16, scratch, len - 16) == 0);
}

/* Spin a little, then give the core away: two threads on two shared cores. */
static void backoff(unsigned *n)
{
	if (++*n < 64) {
		cpu_relax();
		return;
	}
	sched_yield();
	if ((*n & 1023) == 0)
		CHECK(now_ns() < phase_deadline);
}

/* ---- a ring on ordinary memory ---------------------------------------------- */

struct tring {
	struct ring_idx *idx;
	unsigned char *data;
	uint32_t size;
	_Atomic uint64_t n;	 /* messages to pass; lowered by the producer if out of time */
	struct ring p, c;	 /* each used by its own thread only */
	struct event ev_data;	 /* phase 2: the consumer sleeps here */
	struct event ev_room;	 /* phase 2: the producer sleeps here */
	_Atomic uint64_t slices; /* phase 2: sleep slices that ended without a wake */
	uint64_t full, empty;	 /* -EAGAIN seen by producer / consumer */
};

static void tring_open(struct tring *t, uint32_t size, uint64_t n, uint64_t start)
{
	memset(t, 0, sizeof(*t));
	t->idx = aligned_alloc(SHMQ_CACHELINE, sizeof(*t->idx));
	t->data = aligned_alloc(SHMQ_CACHELINE, size);
	CHECK(t->idx && t->data);
	memset(t->data, 0, size);
	ring_format(t->data, size, start);
	atomic_init(&t->idx->prod, start);
	atomic_init(&t->idx->cons, start);
	ring_init(&t->p, t->idx, t->data, size, start);
	ring_init(&t->c, t->idx, t->data, size, start);
	t->size = size;
	t->n = n;
}

static void tring_close(struct tring *t)
{
	free(t->idx);
	free(t->data);
}

/* The producer's part of one message: fill the reservation and commit. Every
 * fifth message reserves more than it commits. */
static void put_message(struct tring *t, void *p, uint64_t seq, uint32_t len)
{
	make_payload(p, len, seq);
	ring_commit(&t->p, len, id_for(seq));
}

static uint32_t reserve_len(const struct tring *t, uint64_t seq, uint32_t len)
{
	uint32_t extra = seq % 5 == 0 ? (uint32_t)(mix(~seq) % 40) : 0;
	return len + extra > t->p.max_payload ? len : len + extra;
}

static void take_message(struct tring *t, const struct ring_view *v, uint64_t seq,
			 unsigned char *scratch)
{
	uint32_t len = len_for(seq, t->c.max_payload);
	if (v->len != len || v->type != type_for(seq) || v->id != id_seen(seq)) {
		fprintf(stderr,
			"message %llu: len %u type %#x id %#llx, expected %u %#x %#llx\n",
			(unsigned long long)seq, v->len, v->type, (unsigned long long)v->id, len,
			type_for(seq), (unsigned long long)id_seen(seq));
		exit(1);
	}
	check_payload(v->data, v->len, seq, scratch);
}

/* The producer stops at seq: tell the consumer how many there are. */
static int producer_stops(struct tring *t, uint64_t seq)
{
	if (!over_budget(seq, phase_budget))
		return 0;
	atomic_store(&t->n, seq);
	return 1;
}

/* Phase 1: spin on -EAGAIN. */
static void *spin_producer(void *arg)
{
	struct tring *t = arg;
	for (uint64_t seq = 0; seq < atomic_load(&t->n) && !producer_stops(t, seq); seq++) {
		uint32_t len = len_for(seq, t->p.max_payload);
		void *p;
		int rc;
		unsigned spins = 0;
		while ((rc = ring_reserve(&t->p, reserve_len(t, seq, len), type_for(seq), &p)) ==
		       -EAGAIN) {
			t->full++;
			backoff(&spins);
		}
		CHECK_EQ(rc, 0);
		put_message(t, p, seq, len);
	}
	return NULL;
}

static void *spin_consumer(void *arg)
{
	struct tring *t = arg;
	unsigned char *scratch = malloc(t->size);
	CHECK(scratch);
	for (uint64_t seq = 0; seq < atomic_load(&t->n); seq++) {
		struct ring_view v;
		int rc;
		unsigned spins = 0;
		while ((rc = ring_peek(&t->c, &v)) == -EAGAIN && seq < atomic_load(&t->n)) {
			/* The ring's contract: flush before waiting. */
			ring_flush(&t->c);
			t->empty++;
			backoff(&spins);
		}
		if (rc == -EAGAIN)
			break; /* the producer stopped early, at seq */
		CHECK_EQ(rc, 0);
		take_message(t, &v, seq, scratch);
		ring_release(&t->c);
	}
	free(scratch);
	return NULL;
}

static void run_pair(struct tring *t, void *(*prod)(void *), void *(*cons)(void *))
{
	pthread_t a, b;
	CHECK_EQ(pthread_create(&a, NULL, prod, t), 0);
	CHECK_EQ(pthread_create(&b, NULL, cons, t), 0);
	CHECK_EQ(pthread_join(a, NULL), 0);
	CHECK_EQ(pthread_join(b, NULL), 0);
	/* Exactly n: nothing more is there, and everything was handed back. */
	struct ring_view v;
	CHECK_EQ(ring_peek(&t->c, &v), -EAGAIN);
	ring_flush(&t->c);
	CHECK_EQ(atomic_load(&t->idx->cons), t->p.pos);
	CHECK_EQ(t->c.pos, t->p.pos);
}

static void phase_ring(uint32_t size, uint64_t n, uint64_t start)
{
	struct tring t;
	uint64_t t0 = now_ns();
	phase_start(5);
	tring_open(&t, size, n, start);
	run_pair(&t, spin_producer, spin_consumer);
	n = atomic_load(&t.n);
	printf("ring %5u: %llu messages, %llu bytes in %.2f s (producer found it full %llu times, "
	       "consumer empty %llu)\n",
	       size, (unsigned long long)n, (unsigned long long)(t.p.pos - start),
	       (double)(now_ns() - t0) / 1e9, (unsigned long long)t.full,
	       (unsigned long long)t.empty);
	tring_close(&t);
}

/* ---- phase 2: sleeping on futexes ---------------------------------------- */

struct wctx {
	struct tring *t;
	uint64_t seq; /* consumer: the message it waits for */
	uint32_t len, type;
	void *p;
	struct ring_view v;
};

static int poll_room(void *arg)
{
	struct wctx *w = arg;
	return ring_reserve(&w->t->p, w->len, w->type, &w->p);
}

static int poll_data(void *arg)
{
	struct wctx *w = arg;
	int rc = ring_peek(&w->t->c, &w->v);
	if (rc != -EAGAIN)
		return rc;
	/* Empty: hand back what we consumed before we sleep, and wake the
	 * producer if it waits for it. */
	if (ring_flush(&w->t->c))
		event_signal(&w->t->ev_room);
	/* The producer stopped early, before seq: nothing more will come. */
	return w->seq >= atomic_load(&w->t->n) ? -ECANCELED : -EAGAIN;
}

/* Called when a sleep slice ends: with a live peer that only happens if a
 * wake-up was lost (or the peer was descheduled for 100 ms). */
static int count_slice(void *arg)
{
	struct wctx *w = arg;
	atomic_fetch_add(&w->t->slices, 1);
	return 0;
}

static void *sleep_producer(void *arg)
{
	struct tring *t = arg;
	struct wctx w = {.t = t};
	const struct sleeper room = event_sleeper(&t->ev_room);
	for (uint64_t seq = 0; seq < atomic_load(&t->n); seq++) {
		if (producer_stops(t, seq)) {
			event_signal(&t->ev_data); /* the consumer may sleep for seq */
			break;
		}
		uint32_t len = len_for(seq, t->p.max_payload);
		w.len = reserve_len(t, seq, len);
		w.type = type_for(seq);
		int rc = shmq__wait(&room, poll_room, count_slice, &w, 0, shmq__deadline(WAIT_MS));
		CHECK_EQ(rc, 0);
		put_message(t, w.p, seq, len);
		event_signal(&t->ev_data);
	}
	return NULL;
}

static void *sleep_consumer(void *arg)
{
	struct tring *t = arg;
	struct wctx w = {.t = t};
	const struct sleeper data = event_sleeper(&t->ev_data);
	unsigned char *scratch = malloc(t->size);
	CHECK(scratch);
	for (uint64_t seq = 0; seq < atomic_load(&t->n); seq++) {
		w.seq = seq;
		int rc = shmq__wait(&data, poll_data, count_slice, &w, 0, shmq__deadline(WAIT_MS));
		if (rc == -ECANCELED)
			break;
		CHECK_EQ(rc, 0);
		take_message(t, &w.v, seq, scratch);
		if (ring_release(&t->c))
			event_signal(&t->ev_room);
	}
	free(scratch);
	return NULL;
}

static void phase_futex(uint32_t size, uint64_t n)
{
	struct tring t;
	uint64_t t0 = now_ns();
	phase_start(5);
	tring_open(&t, size, n, (1ull << 32) - 4096);
	run_pair(&t, sleep_producer, sleep_consumer);
	n = atomic_load(&t.n);
	uint64_t slices = atomic_load(&t.slices);
	printf("ring %5u + futex waits, no spinning: %llu messages in %.2f s, %llu sleep slices "
	       "ended without a wake\n",
	       size, (unsigned long long)n, (double)(now_ns() - t0) / 1e9,
	       (unsigned long long)slices);
	/* A lost wake-up costs a whole slice; allow a few for a loaded machine. */
	CHECK(slices <= 5);
	tring_close(&t);
}

/* ---- phase 3: the public API in two threads ----------------------------- */

static shmq_config cfgs[3];
static int ncfg;

/* If a CHECK fails while an endpoint exists, remove it anyway. */
static void remove_endpoints(void)
{
	for (int i = 0; i < ncfg; i++)
		shmq_remove(&cfgs[i], SHMQ_REMOVE_FORCE);
}

struct api {
	shmq_config cfg;
	shmq_server *s;
	uint64_t n;
	int stream; /* one-way messages instead of requests */
	uint32_t max;
	_Atomic uint64_t sent; /* set by the client when it is done */
};

static void make_reply(unsigned char *rep, const unsigned char *req, size_t len)
{
	uint64_t h = fnv1a(req, len);
	memcpy(rep, &h, 8);
	for (size_t i = 0; i < len; i++)
		rep[8 + i] = req[i] ^ 0x5a;
}

/* Handle message i if it comes within a short wait: 1 if it did, 0 if not. */
static int serve_one(struct api *a, uint64_t i, unsigned char *buf, unsigned char *rep,
		     unsigned char *scratch)
{
	shmq_msg m;
	ssize_t len;
	if (a->stream && i % 3 == 0) {
		/* Zero-copy now and then. */
		int rc = shmq_server_recv_view(a->s, &m, 200);
		if (rc == -ETIMEDOUT)
			return 0;
		CHECK_EQ(rc, 0);
		CHECK_EQ(m.len, len_for(i, a->max));
		CHECK_EQ(m.flags, 0);
		CHECK(m.id == 0);
		check_payload(m.data, (uint32_t)m.len, i, scratch);
		CHECK_EQ(shmq_server_release(a->s, &m), 0);
		return 1;
	}
	len = shmq_server_recv(a->s, buf, a->max, &m, 200);
	if (len == -ETIMEDOUT)
		return 0;
	CHECK(len >= 0);
	if (a->stream) {
		CHECK_EQ(len, len_for(i, a->max));
		CHECK_EQ(m.flags, 0);
		CHECK(m.id == 0);
		check_payload(buf, (uint32_t)len, i, scratch);
		return 1;
	}
	CHECK(m.flags & SHMQ_MSG_REQUEST);
	make_reply(rep, buf, (size_t)len);
	/* An answer, not a message of the server's own: the client's
	 * shmq_client_request takes only the reply carrying its request's id. */
	CHECK_EQ(shmq_server_reply(a->s, &m, rep, (size_t)len + 8, WAIT_MS), 0);
	return 1;
}

/* Serve until everything the client says it sent has been handled; short
 * waits, so as to notice when the client is done. */
static void *api_server(void *arg)
{
	struct api *a = arg;
	unsigned char *buf = malloc(a->max), *rep = malloc(a->max), *scratch = malloc(a->max);
	CHECK(buf && rep && scratch);
	for (uint64_t i = 0; i < atomic_load(&a->sent);) {
		if (serve_one(a, i, buf, rep, scratch))
			i++;
		else
			CHECK(now_ns() < phase_deadline);
	}
	free(buf);
	free(rep);
	free(scratch);
	return NULL;
}

/* Requests from..to, or until the soft deadline; returns where it ended. */
static uint64_t client_requests(struct api *a, uint64_t from, uint64_t to, uint32_t spin_us,
				uint64_t until)
{
	shmq_config cfg = a->cfg;
	shmq_client *c;
	unsigned char *req = malloc(a->max), *rep = malloc(a->max), *want = malloc(a->max);
	CHECK(req && rep && want);
	cfg.spin_us = spin_us;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	uint64_t i;
	for (i = from; i < to && !over_budget(i - from, until); i++) {
		uint32_t len = len_for(i, a->max - 8);
		make_payload(req, len, i);
		ssize_t r = shmq_client_request(c, req, len, rep, a->max, WAIT_MS);
		CHECK_EQ(r, (ssize_t)len + 8);
		make_reply(want, req, len);
		CHECK(memcmp(rep, want, (size_t)r) == 0);
	}
	CHECK_EQ(shmq_client_close(c), 0);
	free(req);
	free(rep);
	free(want);
	return i;
}

static void *api_client(void *arg)
{
	struct api *a = arg;
	uint64_t i;
	if (a->stream) {
		shmq_client *c;
		unsigned char *msg = malloc(a->max);
		CHECK(msg);
		CHECK_EQ(shmq_client_connect(&c, &a->cfg), 0);
		for (i = 0; i < a->n && !over_budget(i, phase_budget); i++) {
			uint32_t len = len_for(i, a->max);
			make_payload(msg, len, i);
			CHECK_EQ(shmq_client_send(c, msg, len, WAIT_MS), 0);
		}
		CHECK_EQ(shmq_client_close(c), 0);
		free(msg);
	} else {
		/* One client that always sleeps, then one that spins first. */
		i = client_requests(a, 0, a->n / 2, 0, phase_budget - budget_ns / 2);
		i = client_requests(a, i, a->n, SHMQ_DEFAULT_SPIN_US, phase_budget);
	}
	atomic_store(&a->sent, i);
	return NULL;
}

static void phase_api(int posix, size_t ring_size, uint64_t n, int stream)
{
	struct api a = {.n = n, .stream = stream, .sent = UINT64_MAX};
	uint64_t t0 = now_ns();
	phase_start(stream ? 5 : 12);
	a.cfg = test_config(ncfg, posix);
	a.cfg.slots = 2;
	a.cfg.ring_size = ring_size;
	a.cfg.spin_us = 0; /* the server always sleeps: every client must wake it */
	cfgs[ncfg++] = a.cfg;
	CHECK_EQ(shmq_server_create(&a.s, &a.cfg), 0);
	a.max = (uint32_t)shmq_server_max_msg(a.s);
	pthread_t srv, cli;
	CHECK_EQ(pthread_create(&srv, NULL, api_server, &a), 0);
	CHECK_EQ(pthread_create(&cli, NULL, api_client, &a), 0);
	CHECK_EQ(pthread_join(cli, NULL), 0);
	CHECK_EQ(pthread_join(srv, NULL), 0);
	/* Nothing more arrived than was sent. */
	shmq_msg m;
	char b[8];
	CHECK_EQ(shmq_server_recv(a.s, b, sizeof(b), &m, 0), -EAGAIN);
	CHECK_EQ(shmq_server_close(a.s), 0);
	n = atomic_load(&a.sent);
	printf("%s, %s, ring %zu: %llu %s in %.2f s\n", posix ? "POSIX" : "System V",
	       stream ? "one way" : "request/reply", ring_size, (unsigned long long)n,
	       stream ? "messages" : "round trips", (double)(now_ns() - t0) / 1e9);
}

/* ---- phase 4: consumed space reaches a blocked producer ------------------ */

/* The client sends one-way messages and the server answers each with a
 * message of its own (shmq_server_send, taken by shmq_client_recv): no
 * request ids are involved, only ring space. */
struct stuck {
	shmq_server *s;
	int fd; /* written to once the server has sent two messages */
};

static void *stuck_server(void *arg)
{
	struct stuck *st = arg;
	size_t max = shmq_server_max_msg(st->s);
	char *buf = calloc(1, max);
	CHECK(buf);
	for (int i = 0; i < 3; i++) {
		shmq_msg m;
		CHECK_EQ(shmq_server_recv(st->s, buf, max, &m, WAIT_MS), 0);
		CHECK_EQ(m.flags, 0); /* one-way: nothing to reply to */
		/* Messages of the largest size: the third finds the reply ring
		 * full and waits until the client reads. */
		CHECK_EQ(shmq_server_send(st->s, m.from, buf, max, WAIT_MS), 0);
		if (i == 1)
			CHECK_EQ(write(st->fd, "", 1), 1);
	}
	free(buf);
	return NULL;
}

/*
 * The client fills its request ring with one-way messages, the server takes
 * three and answers each with a maximal message of its own, so it blocks on
 * the third: the client does not read yet, it wants to send one more. The
 * server has consumed three messages, so there is room; the client must get
 * it even though the server is not in recv (nor finds its ring empty).
 */
static int phase_blocked_producer(void)
{
	struct stuck st;
	shmq_config cfg = test_config(ncfg, 0);
	shmq_client *c;
	int pfd[2];
	cfg.slots = 1;
	cfg.ring_size = 4096;
	cfg.spin_us = 0;
	cfgs[ncfg++] = cfg;
	CHECK_EQ(pipe(pfd), 0);
	st.fd = pfd[1];
	CHECK_EQ(shmq_server_create(&st.s, &cfg), 0);
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	int queued = 0, rc;
	while ((rc = shmq_client_send(c, "", 0, 0)) == 0)
		CHECK(++queued < 4096);
	CHECK_EQ(rc, -EAGAIN);

	pthread_t srv;
	CHECK_EQ(pthread_create(&srv, NULL, stuck_server, &st), 0);
	char ch;
	CHECK_EQ(read(pfd[0], &ch, 1), 1);
	uint64_t t0 = now_ns();
	rc = shmq_client_send(c, "", 0, 2000);
	uint64_t waited = (now_ns() - t0) / 1000000;

	/* Unblock the server whatever happened, and clean up. */
	char *buf = malloc(shmq_client_max_msg(c));
	CHECK(buf);
	for (int i = 0; i < 3; i++)
		CHECK(shmq_client_recv(c, buf, shmq_client_max_msg(c), WAIT_MS) >= 0);
	free(buf);
	CHECK_EQ(pthread_join(srv, NULL), 0);
	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_server_close(st.s), 0);
	close(pfd[0]);
	close(pfd[1]);
	printf("blocked producer: %d messages queued; one more after the server consumed 3: "
	       "%s after %llu ms\n",
	       queued, rc ? shmq_strerror(rc) : "sent", (unsigned long long)waited);
	if (rc != 0)
		fprintf(stderr,
			"FAIL: a client blocked in send did not get the room the server "
			"had consumed while the server was blocked in send (%s)\n",
			shmq_strerror(rc));
	return rc == 0;
}

int main(void)
{
	(void)harness_failures; /* unused by this test; harness.h declares it */
	test_timeout(110);
	atexit(remove_endpoints);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%s build\n", SANITIZED ? "sanitizer" : "plain");

	phase_ring(512, SCALE(1000000), 0 - 100000ull);
	phase_ring(2048, SCALE(1000000), (1ull << 32) - 100000);
	phase_futex(1024, SCALE(200000));
	phase_api(0, 4096, 100000, 0);
	phase_api(1, SHMQ_MIN_RING_SIZE, 100000, 1);
	int ok = phase_blocked_producer();
	return ok ? 0 : 1;
}
