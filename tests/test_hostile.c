/* SPDX-License-Identifier: MIT */
/*
 * Hostile peers, with real processes. DESIGN.md §6: any process that can
 * attach may write anything, anywhere in the segment, at any moment.
 *
 * (A) A hostile client. A server process serves two honest client processes
 *     (request/reply, numbered and checksummed payloads, replies checked byte
 *     for byte) while a third process connects with shmq_client_connect, so
 *     that it owns a slot and its lock, then maps the segment raw and
 *     scribbles on its slot (its rings, its state, the server's side of it:
 *     srv.waiting/never_sleeps/state), on the header (the server's futex
 *     word srv_seq, conn_seq, every field but the magic), or on another
 *     slot. One round per case. Each round: the server neither
 *     crashes nor hangs, the honest clients keep completing requests, a
 *     protocol violation gets the hostile client disconnected (banned)
 *     within BAN_MS, and once it has gone its slot can be claimed again.
 *     The consumer of a ring finds records by the seal at its own position
 *     and never reads the producer's index: unsealed garbage and a moved
 *     prod are not violations it can see, so for those the hostile client
 *     must simply go on being served from where it stands.
 * (B) A hostile server. The test owns the server and scribbles on a client
 *     child's reply ring (garbage, requests, replies with ids it never used
 *     or with corrupt lengths), its request ring's consumer index, the
 *     endpoint state the server keeps in the client's slot (srv.state), the
 *     header's state (which a connected client no longer reads) and the
 *     client's slot state: the client's calls fail with a named error
 *     (-EPROTO, -EPIPE, -ECONNRESET, -EINPROGRESS), never crash, hang or
 *     read out of bounds, replies it did not ask for are discarded and
 *     counted (late_replies), and the client exits normally.
 * (C) Hostile clients at a graceful shutdown: one claims (by its published
 *     prod) a ring of records it never wrote, one a prod beyond belief. The
 *     drain bans the first at its first missing record, owes the second
 *     nothing, ends at once, and the honest client's messages are all taken
 *     and its requests answered.
 *
 * Run by the suite under ASan+UBSan: every buffer the library copies into is
 * allocated at exactly the size it may fill, so a length that escaped
 * validation is an out-of-bounds write the sanitizer reports.
 */
#include "harness.h"
#include "proc.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "internal.h"
#include "raw.h"
#include "ring.h"

#define RING	   4096u
#define SLOTS	   4u /* two honest clients, the hostile one, one spare */
#define NHONEST	   2
#define HONEST_MIN 20000 /* requests each honest client completes, at least */
#define BAN_MS	   3000	 /* a protocol violation is disconnected within this */
#define PROGRESS   100	 /* honest requests that must complete after each round */
#define XOR	   0xa5u /* a reply is its request with every byte xor'ed */

/* ---- children and pipes (proc.h cleans up: main tracks the endpoints) --- */

/* A child that must exit 0 within timeout_ms; what names it if not. */
static void reap_zero(pid_t pid, unsigned timeout_ms, const char *what)
{
	int rc = reap_exit(pid, timeout_ms, what);
	if (rc != 0) {
		fprintf(stderr, "%s: child %d failed (exit %d)\n", what, (int)pid, rc);
		exit(1);
	}
}

/* The child must still be running. */
static void check_alive(pid_t pid, const char *what)
{
	int st;
	pid_t r = waitpid(pid, &st, WNOHANG);
	if (r != 0) {
		fprintf(stderr, "%s: process %d is gone (status 0x%x)\n", what, (int)pid,
			r == pid ? st : -1);
		kid_forget(pid);
		exit(1);
	}
}

static void put(int fd, const void *p, size_t n)
{
	CHECK(write(fd, p, n) == (ssize_t)n);
}

/* Read exactly n bytes within timeout_ms; 0 on success. */
static int get_within(int fd, void *p, size_t n, int timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	size_t got = 0;
	while (got < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ns();
		if (now >= end)
			return -ETIMEDOUT;
		int pr = poll(&pfd, 1, (int)((end - now) / 1000000ull) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

static uint64_t ms_since(uint64_t t)
{
	return (now_ns() - t) / 1000000ull;
}

/* ---- the shared board: what the processes of part A tell each other ----- */

struct board {
	_Atomic uint32_t stop_server;
	_Atomic uint32_t stop_honest;
	_Atomic uint32_t honest_slot[NHONEST]; /* slot + 1, once connected */
	_Atomic uint32_t honest_gen[NHONEST];
	_Atomic uint64_t honest_done[NHONEST]; /* requests completed */
	_Atomic int32_t served[SLOTS];	       /* pid the server serves in slot i, or 0 */
	_Atomic uint64_t loops;		       /* server loop iterations */
	_Atomic uint64_t other_msgs;	       /* messages from non-honest clients */
	_Atomic uint64_t ban_ms_max;	       /* slowest disconnection after an attack */
	_Atomic uint64_t toctou_intact;	       /* flipping records read intact */
};

static struct board *B;

/* ---- messages: {magic, who, seq, len, checksum} + pseudo-random payload -- */

struct mhdr {
	uint32_t magic;
	uint32_t who;
	uint32_t seq;
	uint32_t len;
	uint64_t sum;
};

#define MSG_MAGIC   0x71657268u
#define PAYLOAD_MAX 1000u

static uint64_t msg_seed(uint32_t who, uint32_t seq)
{
	return ((uint64_t)who << 32) | seq;
}

static size_t make_req(unsigned char *buf, uint32_t who, uint32_t seq)
{
	struct mhdr h = {MSG_MAGIC, who, seq, (who * 7919u + seq * 104729u) % PAYLOAD_MAX, 0};
	fill_random(buf + sizeof(h), h.len, msg_seed(who, seq));
	h.sum = fnv1a(buf + sizeof(h), h.len);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.len;
}

/* 0 if buf holds an intact request; its header in *h. */
static int check_req(const unsigned char *buf, size_t n, struct mhdr *h)
{
	unsigned char want[PAYLOAD_MAX];
	if (n < sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	if (h->magic != MSG_MAGIC || h->len != n - sizeof(*h) || h->len >= PAYLOAD_MAX ||
	    fnv1a(buf + sizeof(*h), h->len) != h->sum)
		return -1;
	fill_random(want, h->len, msg_seed(h->who, h->seq));
	return memcmp(want, buf + sizeof(*h), h->len) ? -1 : 0;
}

static void xor_bytes(unsigned char *out, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(in[i] ^ XOR);
}

/* Is rep the reply to req, byte for byte? */
static int is_reply(const unsigned char *req, const unsigned char *rep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i] != (unsigned char)(req[i] ^ XOR))
			return 0;
	return 1;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	CHECK(p);
	return p;
}


static struct seg_header *raw_hdr(struct raw *r)
{
	return (struct seg_header *)(void *)r->base;
}

static struct slot_ctl *raw_slot(struct raw *r, uint32_t i)
{
	CHECK(i < r->g.slots);
	return slot_ctl(r->base, &r->g, i);
}

/* Ring a client's doorbell the way the server does, whether or not anyone
 * sleeps. */
static void ring_bell(struct event *ev)
{
	atomic_fetch_add(&ev->seq, 1);
	syscall(SYS_futex, (uint32_t *)&ev->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Wake the server the way a client does on connect and leave: bump the
 * futex word it sleeps on (the header's srv_seq) and wake it, whatever the
 * slots' srv.waiting flags say. */
static void srv_bell(struct seg_header *hd)
{
	atomic_fetch_add(&hd->srv_seq, 1);
	syscall(SYS_futex, (uint32_t *)&hd->srv_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Write a record header at stream position pos: the word, then the seal with
 * release, as a producer does (the consumer polls the seal). */
static void rec_put(unsigned char *data, uint64_t pos, uint32_t word, uint32_t seal)
{
	unsigned char *h = data + (pos & (RING - 1));
	__atomic_store_n((uint32_t *)(void *)h, word, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(void *)(h + 4), seal, __ATOMIC_RELEASE);
}

/* A seal no record at pos can have: the consumer stops there. */
static void rec_end(unsigned char *data, uint64_t pos)
{
	unsigned char *h = data + (pos & (RING - 1));
	__atomic_store_n((uint32_t *)(void *)(h + 4), ~rec_seal(pos), __ATOMIC_RELAXED);
}

/* Bytes a record of type (0, REC_REQUEST, REC_REPLY) with len bytes takes. */
static uint32_t rec_size(uint32_t len, uint32_t type)
{
	return REC_HDR_SIZE + (rec_has_id(type) ? REC_ID_SIZE : 0) +
	       (uint32_t)align_up(len, REC_ALIGN);
}

/* Where the payload of a record of this type starts, from its header. */
static uint32_t rec_payload_off(uint32_t type)
{
	return REC_HDR_SIZE + (rec_has_id(type) ? REC_ID_SIZE : 0);
}

/* The id of a request or reply record at pos: two 32-bit halves, low first,
 * right after the header (written before the seal). */
static void rec_put_id(unsigned char *data, uint64_t pos, uint64_t id)
{
	unsigned char *h = data + (pos & (RING - 1)) + REC_HDR_SIZE;
	__atomic_store_n((uint32_t *)(void *)h, (uint32_t)id, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(void *)(h + 4), (uint32_t)(id >> 32), __ATOMIC_RELAXED);
}

/* ring_max_payload(RING), checked in main. */
#define MAXP	(RING / 2 - 2 * REC_HDR_SIZE - REC_ID_SIZE)
#define BIG_LEN 0x1ffffff0u /* the largest length a word holds, about */

/* ---- a thread that flips a record's length word under its reader ------- */

/* It writes BIG_LEN and len (each with the record's type) in turn into
 * *word, from before the record is sealed until the record has been consumed,
 * so that the consumer's reads of the header race with it. A consumer that
 * read the word twice would, now and then, validate one length and use the
 * other. */
struct flipper {
	pthread_t thread;
	_Atomic(uint32_t *) word;
	uint32_t len;
	uint32_t type; /* 0, REC_REQUEST or REC_REPLY */
	_Atomic int parked; /* 1: it no longer writes to the last word given */
	_Atomic int stop;
};

static void *flip_main(void *arg)
{
	struct flipper *f = arg;
	for (;;) {
		/* parked = 0 before loading word, and flip_park stores NULL
		 * before loading parked: it cannot see 1 while we write. */
		atomic_store(&f->parked, 0);
		uint32_t *w = atomic_load(&f->word);
		if (!w) {
			atomic_store(&f->parked, 1);
			if (atomic_load(&f->stop))
				return NULL;
			while (!atomic_load(&f->word) && !atomic_load(&f->stop))
				;
			continue;
		}
		for (int i = 0; i < 64; i++) {
			__atomic_store_n(w, BIG_LEN | f->type, __ATOMIC_RELAXED);
			__atomic_store_n(w, f->len | f->type, __ATOMIC_RELAXED);
		}
	}
}

static void flip_start(struct flipper *f, uint32_t len, uint32_t type)
{
	*f = (struct flipper){.len = len, .type = type};
	CHECK(pthread_create(&f->thread, NULL, flip_main, f) == 0);
}

/* Stop writing to the word given last. */
static void flip_park(struct flipper *f)
{
	atomic_store(&f->word, NULL);
	while (!atomic_load(&f->parked))
		;
}

static void flip_stop(struct flipper *f)
{
	atomic_store(&f->stop, 1);
	flip_park(f);
	CHECK(pthread_join(f->thread, NULL) == 0);
}

/* Put a record of len bytes and f's type (payload already written) with id
 * at position pos while f flips its length word; returns once it is sealed. */
static void flip_record(struct flipper *f, unsigned char *data, uint64_t pos, uint32_t len,
			uint64_t id)
{
	unsigned char *h = data + (pos & (RING - 1));
	rec_end(data, pos + rec_size(len, f->type));
	if (rec_has_id(f->type))
		rec_put_id(data, pos, id);
	__atomic_store_n((uint32_t *)(void *)h, len | f->type, __ATOMIC_RELAXED);
	atomic_store(&f->word, (uint32_t *)(void *)h);
	while (atomic_load(&f->parked))
		; /* it flips now */
	__atomic_store_n((uint32_t *)(void *)(h + 4), rec_seal(pos), __ATOMIC_RELEASE);
}

/* If fewer than need bytes are left before the end, pad to the start. */
static uint64_t pad_if_short(unsigned char *data, uint64_t p, uint32_t need)
{
	uint32_t tail = RING - (uint32_t)(p & (RING - 1));
	if (tail >= need)
		return p;
	rec_put(data, p, (tail - REC_HDR_SIZE) | REC_PAD, rec_seal(p));
	return p + tail;
}

/* ---- ring attacks: what a producer can do to its consumer --------------- */

/* The ways a producer can lie to its consumer. The consumer finds records by
 * the seal at its own position, so the first group, sealed, are protocol
 * violations it must detect; the second group it must simply ignore (an
 * unsealed record is one not written yet; the producer's index is only
 * published for observers), and go on working when proper records follow. */
enum ring_attack {
	RA_RANDOM,     /* random bytes, sealed at the consumer's position */
	RA_HUGE_LEN,   /* a record of length 0x1ffffff0 */
	RA_OVER_MAX,   /* a record one byte longer than the largest payload */
	RA_PAST_END,   /* a record running past the end of the data area */
	RA_ID_OVERRUN, /* a record with an id that runs past the end by the id */
	RA_WRONG_TYPE, /* a well-formed record of the other direction's type */
	RA_BOTH_TYPES, /* a record typed both request and reply */
	RA_PAD_MID,    /* a PAD record that does not run to the end */
	RA_PAD_END,    /* a PAD record at the end, with a wrong length */
	RA_PAD_FLAG,   /* a PAD record with the request flag */
	RA_TWO_PADS,   /* two PAD records in a row */
	RA_UNSEALED,   /* random bytes, no valid seal: the first to be ignored */
	RA_NEXT_LAP,   /* a well-formed record sealed for the next lap */
	RA_BEYOND,     /* prod beyond cons + ring size */
	RA_BACKWARDS,  /* prod moved backwards */
	RA_COUNT
};

#define RA_HARMLESS RA_UNSEALED /* this one and those after it are ignored */

static const char *const ra_name[RA_COUNT] = {
    "random bytes over the ring, sealed",
    "record with length 0x1ffffff0",
    "record longer than the largest payload",
    "record running past the end of the ring",
    "request/reply record whose id makes it run past the end of the ring",
    "record of the other direction's type (reply to the server, request to the client)",
    "record typed both request and reply",
    "PAD record not running to the end of the ring",
    "PAD record at the end with a wrong length",
    "PAD record with the request flag",
    "two PAD records in a row",
    "random bytes over the ring, unsealed (ignored)",
    "record sealed for the next lap (ignored)",
    "prod beyond cons + ring size (ignored)",
    "prod moved backwards (ignored)",
};

/* Is offset off in the data area the wrong place for the consumer to stand
 * for attack a to be what it says? */
static int ra_unsuitable(enum ring_attack a, uint32_t off)
{
	switch (a) {
	case RA_PAD_END:
	case RA_TWO_PADS:
		return off == 0; /* a pad at offset 0 runs the whole ring */
	case RA_PAST_END:
	case RA_ID_OVERRUN:
		return off < RING - MAXP; /* a record that fits the limit can pass the end */
	default:
		return 0;
	}
}

/* Scribble attack a into a ring whose consumer has read everything up to the
 * producer's position p. own is the id-carrying type this ring's producer
 * may write: REC_REQUEST in a request ring, REC_REPLY in a reply ring.
 * Violations that want the record at offset 0 get there with a legal PAD,
 * written last (the consumer may be polling it). The ignored ones write at
 * p, so that the producer's next record, at p, is found where the consumer
 * waits. */
static void ring_attack(enum ring_attack a, unsigned char *data, struct ring_idx *idx, uint64_t p,
			uint64_t seed, uint32_t own)
{
	uint32_t off = (uint32_t)(p & (RING - 1));
	uint32_t tail = RING - off;
	uint64_t q = off ? p + tail : p; /* the record at offset 0 */
	uint64_t prod = p;
	uint32_t other = (REC_REQUEST | REC_REPLY) ^ own;
	int pad = 0;
	uint32_t word;

	CHECK(own == REC_REQUEST || own == REC_REPLY);
	CHECK(!ra_unsuitable(a, off));
	switch (a) {
	case RA_RANDOM:
		fill_random(data, 512, seed);
		memcpy(&word, data, sizeof(word));
		/* Garbage, for sure: a type no record has (both id types at
		 * once), unless it is a pad, which at offset 0 would have to
		 * run the whole ring. */
		if ((word & REC_TYPE_MASK) != REC_PAD ||
		    (word & REC_LEN_MASK) == RING - REC_HDR_SIZE)
			word |= REC_REQUEST | REC_REPLY;
		rec_put(data, q, word, rec_seal(q));
		pad = 1;
		break;
	case RA_HUGE_LEN:
		rec_put(data, q, BIG_LEN | own, rec_seal(q));
		pad = 1;
		break;
	case RA_OVER_MAX:
		/* It fits in the ring: only the payload limit catches it. */
		rec_put(data, q, MAXP + 1, rec_seal(q));
		pad = 1;
		break;
	case RA_PAST_END:
		rec_put(data, p, tail, rec_seal(p));
		break;
	case RA_ID_OVERRUN:
		/* Header and payload fill the tail exactly: only the 8 bytes of
		 * the id take it past the end. */
		rec_put(data, p, (tail - REC_HDR_SIZE) | own, rec_seal(p));
		break;
	case RA_WRONG_TYPE:
		fill_random(data + REC_HDR_SIZE, REC_ID_SIZE + 64, seed);
		rec_put_id(data, q, 1); /* the first id a client uses */
		rec_end(data, q + rec_size(64, other));
		rec_put(data, q, 64 | other, rec_seal(q));
		pad = 1;
		break;
	case RA_BOTH_TYPES:
		fill_random(data + REC_HDR_SIZE, REC_ID_SIZE + 64, seed);
		rec_end(data, q + rec_size(64, REC_REQUEST));
		rec_put(data, q, 64 | REC_REQUEST | REC_REPLY, rec_seal(q));
		pad = 1;
		break;
	case RA_PAD_MID:
		rec_put(data, q, 56 | REC_PAD, rec_seal(q));
		pad = 1;
		break;
	case RA_PAD_END:
		rec_put(data, p, (tail - 2 * REC_HDR_SIZE) | REC_PAD, rec_seal(p));
		break;
	case RA_PAD_FLAG:
		rec_put(data, p, (tail - REC_HDR_SIZE) | REC_PAD | REC_REQUEST, rec_seal(p));
		break;
	case RA_TWO_PADS:
		/* Each is right on its own: a pad over the whole ring at 0. */
		rec_put(data, q, (RING - REC_HDR_SIZE) | REC_PAD, rec_seal(q));
		pad = 1;
		break;
	case RA_UNSEALED:
		fill_random(data + off, tail < 512 ? tail : 512, seed);
		rec_end(data, p);
		prod = p + 512;
		break;
	case RA_NEXT_LAP: {
		uint32_t len = tail >= rec_size(64, own) + REC_HDR_SIZE ? 64 : 0;
		if (tail >= rec_size(len, own) + REC_HDR_SIZE) {
			fill_random(data + off + rec_payload_off(own), len, seed);
			rec_put_id(data, p, 1);
		}
		rec_put(data, p, len | own, rec_seal(p + RING));
		prod = p + rec_size(len, own);
		break;
	}
	case RA_BEYOND:
		prod = p + RING + 64;
		break;
	case RA_BACKWARDS:
		prod = p - 8;
		break;
	default:
		CHECK(!"no such attack");
	}
	if (pad && off)
		rec_put(data, p, (tail - REC_HDR_SIZE) | REC_PAD, rec_seal(p));
	/* Only observers read prod; a hostile producer writes it anyway. */
	atomic_store_explicit(&idx->prod, prod, memory_order_release);
}

/* ====================================================================== */
/* Part A: a hostile client                                               */
/* ====================================================================== */

/* ---- the server process -------------------------------------------------- */

static int honest_index(shmq_client_id id)
{
	for (int k = 0; k < NHONEST; k++)
		if (atomic_load(&B->honest_slot[k]) == id.slot + 1 &&
		    atomic_load(&B->honest_gen[k]) == id.gen)
			return k;
	return -1;
}

/* Answer one message: honest requests are checked (intact, in order), any
 * message gets its xor'ed bytes back: a request as its reply, a one-way
 * message as a message of the server's own. An honest client must always
 * get its reply; anyone else may find its ring full or itself disconnected. */
static void serve(shmq_server *s, const unsigned char *buf, size_t n, const shmq_msg *m,
		  unsigned char *out, uint32_t *next)
{
	CHECK(n <= shmq_server_max_msg(s));
	int k = honest_index(m->from);
	if (k >= 0) {
		struct mhdr h = {0};
		if (check_req(buf, n, &h) != 0 || h.who != (uint32_t)k || h.seq != next[k] ||
		    !(m->flags & SHMQ_MSG_REQUEST)) {
			fprintf(stderr,
				"server: bad request from honest client %d (seq %u, want %u, "
				"flags 0x%x)\n",
				k, h.seq, next[k], m->flags);
			exit(1);
		}
		next[k]++;
	} else {
		atomic_fetch_add(&B->other_msgs, 1);
	}
	xor_bytes(out, buf, n);
	int rc = m->flags & SHMQ_MSG_REQUEST
			 ? shmq_server_reply(s, m, out, n, k >= 0 ? 5000 : 0)
			 : shmq_server_send(s, m->from, out, n, k >= 0 ? 5000 : 0);
	if (k >= 0 && rc != 0) {
		fprintf(stderr, "server: reply to honest client %d: %s\n", k, shmq_strerror(rc));
		exit(1);
	}
	CHECK(rc == 0 || rc == -EAGAIN || rc == -ENOTCONN);
}

/* Tell the others which pid the server serves in each slot: its private
 * view, which a hostile client cannot write. */
static void publish(shmq_server *s)
{
	shmq_client_info info[SLOTS];
	int32_t pid[SLOTS] = {0};
	int n = shmq_server_clients(s, info, SLOTS);
	CHECK(n >= 0 && n <= (int)SLOTS);
	for (int i = 0; i < n; i++) {
		CHECK(info[i].id.slot < SLOTS);
		pid[info[i].id.slot] = info[i].pid;
	}
	for (uint32_t i = 0; i < SLOTS; i++)
		atomic_store(&B->served[i], pid[i]);
	atomic_fetch_add(&B->loops, 1);
}

static void server_main(const shmq_config *cfg, int ready_fd)
{
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, cfg), 0);
	size_t max = shmq_server_max_msg(s);
	/* Exactly the largest message: a length that escaped validation
	 * overflows it under ASan. */
	unsigned char *buf = xmalloc(max);
	unsigned char *out = xmalloc(max);
	uint32_t next[NHONEST] = {0};
	put(ready_fd, "s", 1);
	close(ready_fd);
	while (!atomic_load(&B->stop_server)) {
		shmq_msg m;
		ssize_t n = shmq_server_recv(s, buf, max, &m, 20);
		if (n >= 0)
			serve(s, buf, (size_t)n, &m, out, next);
		else if (n != -ETIMEDOUT)
			CHECK_EQ(n, -ETIMEDOUT);
		publish(s);
	}
	/* Stop by the book: whatever the hostile rounds left queued is
	 * received (and answered, to nobody) until the drain ends, promptly. */
	CHECK_EQ(shmq_server_shutdown(s), 0);
	uint64_t t0 = now_ns();
	for (;;) {
		shmq_msg m;
		ssize_t n = shmq_server_recv(s, buf, max, &m, 1000);
		if (n == -ESHUTDOWN)
			break;
		CHECK(n >= 0);
		serve(s, buf, (size_t)n, &m, out, next);
		CHECK(ms_since(t0) < 5000);
	}
	CHECK_EQ(shmq_server_recv(s, buf, max, NULL, 0), -ESHUTDOWN);
	CHECK_EQ(shmq_server_close(s), 0);
	free(buf);
	free(out);
	exit(0);
}

/* ---- honest clients ------------------------------------------------------ */

static void honest_main(const shmq_config *cfg, uint32_t who, int ready_fd)
{
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, cfg), 0);
	shmq_client_id me = shmq_client_self(c);
	/* Before our first request, which the server reads after it. */
	atomic_store(&B->honest_gen[who], me.gen);
	atomic_store(&B->honest_slot[who], me.slot + 1);
	put(ready_fd, "h", 1);
	close(ready_fd);
	size_t cap = shmq_client_max_msg(c);
	unsigned char *req = xmalloc(cap);
	unsigned char *rep = xmalloc(cap);
	for (uint32_t seq = 0; seq < HONEST_MIN || !atomic_load(&B->stop_honest); seq++) {
		size_t n = make_req(req, who, seq);
		ssize_t r = shmq_client_request(c, req, n, rep, cap, 5000);
		if (r != (ssize_t)n || !is_reply(req, rep, n)) {
			fprintf(stderr, "honest client %u: request %u: %zd (%s)\n", who, seq, r,
				r < 0 ? shmq_strerror((int)r) : "wrong reply");
			exit(1);
		}
		atomic_store(&B->honest_done[who], seq + 1);
	}
	CHECK_EQ(shmq_client_close(c), 0);
	free(req);
	free(rep);
	exit(0);
}

/* ---- the hostile client -------------------------------------------------- */

struct hctx {
	shmq_client *c;
	struct raw raw;
	struct seg_header *hdr;
	struct slot_ctl *ctl;
	unsigned char *req; /* its request ring's data */
	uint32_t slot;
	uint64_t seed;
};

/* What the round must end with. */
enum { EXPECT_BAN, EXPECT_GONE, EXPECT_SERVED };

struct hcase {
	const char *name;
	int (*run)(struct hctx *h, int arg);
	int arg;
};

/* Requests by the book, answered byte for byte. */
static void legit(struct hctx *h, int n, size_t len)
{
	size_t cap = shmq_client_max_msg(h->c);
	unsigned char *req = xmalloc(len);
	unsigned char *rep = xmalloc(cap);
	for (int i = 0; i < n; i++) {
		fill_random(req, len, h->seed + (uint64_t)i);
		ssize_t r = shmq_client_request(h->c, req, len, rep, cap, 5000);
		CHECK_EQ(r, (ssize_t)len);
		CHECK(is_reply(req, rep, len));
	}
	free(req);
	free(rep);
}

static uint64_t honest_total(void)
{
	uint64_t t = 0;
	for (int k = 0; k < NHONEST; k++)
		t += atomic_load(&B->honest_done[k]);
	return t;
}

/* The server has been round its loop n more times: it has polled every
 * ring it serves since now, ours included. */
static void server_looped(uint64_t n)
{
	uint64_t start = atomic_load(&B->loops), t0 = now_ns();
	while (atomic_load(&B->loops) - start < n) {
		CHECK(ms_since(t0) < 10000);
		usleep(200); /* polling a counter, with a deadline */
	}
}

static int h_ring(struct hctx *h, int a)
{
	if (a == RA_BACKWARDS)
		legit(h, 3, 100);
	/* Move along by the book to where the attack means something. */
	for (int i = 0; ra_unsuitable((enum ring_attack)a,
				      (uint32_t)atomic_load(&h->ctl->req.prod) & (RING - 1));
	     i++) {
		CHECK(i < 8);
		legit(h, 1, 1100);
	}
	ring_attack((enum ring_attack)a, h->req, &h->ctl->req, atomic_load(&h->ctl->req.prod),
		    h->seed, REC_REQUEST);
	srv_bell(h->hdr);
	if (a < RA_HARMLESS)
		return EXPECT_BAN;
	/* Ignored: the server looks at it for a while, then takes what
	 * follows by the book, from the very position of the garbage. */
	server_looped(100);
	legit(h, 3, 100);
	return EXPECT_SERVED;
}

/* Records whose length flips between sane and huge while the server reads
 * them, one after the other: the server must read each length once, and
 * either take the record intact or ban us. */
static int h_toctou(struct hctx *h, int arg)
{
	(void)arg;
	uint32_t len = 64;
	uint64_t p = atomic_load(&h->ctl->req.prod);
	CHECK_EQ(p, 0); /* a fresh slot */
	struct flipper f;
	flip_start(&f, len, 0); /* one-way messages: the server sends them back */
	int banned = 0;
	uint64_t n;
	for (n = 0; n < 300 && !banned; n++) {
		p = pad_if_short(h->req, p, rec_size(len, 0) + REC_HDR_SIZE);
		unsigned char *payload = h->req + (p & (RING - 1)) + rec_payload_off(0);
		fill_random(payload, len, h->seed + n);
		flip_record(&f, h->req, p, len, 0);
		srv_bell(h->hdr);
		/* Either the server banned us, or it took the record (with
		 * length 64) and replied. */
		unsigned char rep[64];
		uint64_t t0 = now_ns();
		for (;;) {
			ssize_t r = shmq_client_recv(h->c, rep, sizeof(rep), 20);
			if (r == -ECONNRESET) {
				banned = 1;
				break;
			}
			if (r >= 0) {
				CHECK_EQ(r, (ssize_t)len);
				CHECK(is_reply(payload, rep, len));
				break;
			}
			CHECK_EQ(r, -ETIMEDOUT);
			CHECK(ms_since(t0) < BAN_MS);
		}
		flip_park(&f);
		p += rec_size(len, 0);
	}
	flip_stop(&f);
	atomic_store(&B->toctou_intact, n - (uint64_t)banned);
	if (!banned) /* never caught it huge: break the protocol plainly now */
		rec_put(h->req, p, BIG_LEN, rec_seal(p));
	srv_bell(h->hdr);
	return EXPECT_BAN;
}

static int h_state(struct hctx *h, int value)
{
	atomic_store(&h->ctl->state, (uint32_t)value);
	return EXPECT_BAN;
}

/* The state flipped at random, CONNECTED half of the time, for 300 ms. */
static int h_state_flip(struct hctx *h, int arg)
{
	(void)arg;
	static const uint32_t v[] = {SLOT_FREE, SLOT_CLAIMED, SLOT_BANNED,
				     7u,	0xffffffffu,  0x55aa55aau};
	uint64_t s = h->seed, end = now_ns() + 300000000ull;
	while (now_ns() < end) {
		uint64_t x = xorshift64(&s);
		atomic_store(&h->ctl->state, x & 1 ? SLOT_CONNECTED : v[(x >> 1) % 6]);
	}
	/* Whatever the server did meanwhile, it may not serve us now; it need
	 * not write BANNED again over what we wrote after its ban. */
	atomic_store(&h->ctl->state, SLOT_CLAIMED);
	return EXPECT_GONE;
}

/* Garbage queued, then a proper leave: the server bans while draining (or
 * before, if it reads the garbage first). */
static int h_leave_garbage(struct hctx *h, int arg)
{
	(void)arg;
	rec_put(h->req, 0, BIG_LEN, rec_seal(0));
	uint32_t expect = SLOT_CONNECTED;
	atomic_compare_exchange_strong(&h->ctl->state, &expect, SLOT_LEAVING);
	atomic_fetch_add(&h->hdr->conn_seq, 1);
	srv_bell(h->hdr);
	return EXPECT_BAN;
}

/* rep.cons, which the server reads when it needs room for a reply, moved
 * backwards (arg 0) or far ahead (arg 1) after the server has seen it. */
static int h_rep_cons(struct hctx *h, int ahead)
{
	legit(h, 12, 1000); /* 12 kB of replies through a 4 kB ring */
	uint64_t cons = atomic_load(&h->ctl->rep.cons);
	CHECK(cons > 0);
	uint64_t bad = ahead ? cons + (1ull << 40) : 0;
	atomic_store(&h->ctl->rep.cons, bad);
	/* Requests whose replies we never read: the server soon needs room.
	 * Our own library may publish the true index once, when a send has
	 * to wait: write ours again after each send. */
	unsigned char buf[1000];
	fill_random(buf, sizeof(buf), h->seed);
	for (int i = 0; i < 64; i++) {
		int rc = shmq_client_send(h->c, buf, sizeof(buf), 200);
		atomic_store(&h->ctl->rep.cons, bad);
		if (rc == -ECONNRESET)
			break;
		CHECK(rc == 0 || rc == -ETIMEDOUT);
	}
	return EXPECT_BAN;
}

static int h_random_ctl(struct hctx *h, int arg)
{
	(void)arg;
	fill_random(h->ctl, sizeof(*h->ctl), h->seed);
	uint32_t st = atomic_load(&h->ctl->state);
	if (st == SLOT_CONNECTED || st == SLOT_LEAVING)
		atomic_store(&h->ctl->state, st ^ 0x10000u);
	return EXPECT_BAN;
}

/* Fields the server does not act on after the connect: counters, identity,
 * our own doorbell (never_sleeps: we only lose our own wake-ups), the
 * reserved lines. It keeps serving us. */
static int h_identity(struct hctx *h, int arg)
{
	(void)arg;
	atomic_store(&h->ctl->gen, 0xdeadbeefu);
	atomic_store(&h->ctl->pid, 1);
	atomic_store(&h->ctl->uid, 0);
	atomic_store(&h->ctl->msgs_in, ~0ull);
	atomic_store(&h->ctl->msgs_out, ~0ull);
	atomic_store(&h->ctl->late_replies, ~0ull);
	atomic_store(&h->ctl->cli_ev.waiting, 1);
	atomic_store(&h->ctl->cli_ev.seq, 0x12345678u);
	atomic_store(&h->ctl->cli_ev.never_sleeps, 1);
	fill_random(h->ctl->reserved_, sizeof(h->ctl->reserved_), h->seed);
	legit(h, 3, 200);
	return EXPECT_SERVED;
}

/* Floods for a second, during which the honest clients must progress: the
 * server's doorbell (arg 0: the futex word srv_seq rung, and the server's
 * side of our own slot, srv.waiting/never_sleeps/state, scribbled all along)
 * or conn_seq (arg 1). Then our slot's srv side is left lying: the server
 * "never sleeps" and is "not waiting" (so our library never wakes it, which
 * only delays us), and its state is put back, so that our library goes on. */
static int h_flood(struct hctx *h, int what)
{
	uint64_t before = honest_total();
	uint64_t end = now_ns() + 1000000000ull;
	uint64_t n = 0, s = h->seed;
	uint32_t state = atomic_load(&h->ctl->srv.state);
	CHECK_EQ(state, EP_READY);
	while (now_ns() < end) {
		for (int i = 0; i < 64; i++, n++) {
			if (what == 0) {
				uint64_t x = xorshift64(&s);
				atomic_store(&h->ctl->srv.waiting, (uint32_t)(x & 3) ? 1u : (uint32_t)x);
				atomic_store(&h->ctl->srv.never_sleeps, (uint32_t)(x >> 8) & 1);
				atomic_store(&h->ctl->srv.state, (uint32_t)(x >> 16) & 1
									? (uint32_t)(x >> 32)
									: EP_CLOSED);
				srv_bell(h->hdr);
			} else {
				atomic_fetch_add(&h->hdr->conn_seq, 1);
			}
		}
	}
	if (what == 0) {
		atomic_store(&h->ctl->srv.never_sleeps, 1);
		atomic_store(&h->ctl->srv.waiting, 0);
		atomic_store(&h->ctl->srv.state, state);
	}
	uint64_t during = honest_total() - before;
	if (during < PROGRESS) {
		fprintf(stderr,
			"hostile: %s flood (%llu rounds): honest clients did only %llu "
			"requests in 1 s\n",
			what ? "conn_seq" : "srv_seq and srv side", (unsigned long long)n,
			(unsigned long long)during);
		exit(1);
	}
	legit(h, 3, 300);
	return EXPECT_SERVED;
}

/* The header's line 0 (magic, versions, features, server identity) and its
 * region table (the geometry) scribbled: the server keeps its own copy and
 * serves on; put back so others can connect. */
static int h_header(struct hctx *h, int arg)
{
	(void)arg;
	struct seg_header *hd = h->hdr;
	unsigned char save[SHMQ_CACHELINE];
	struct seg_region regions[SEG_MAX_REGIONS];
	memcpy(save, hd, sizeof(save));
	memcpy(regions, hd->regions, sizeof(regions));
	uint64_t before = honest_total();
	fill_random((unsigned char *)hd + 8, sizeof(save) - 8, h->seed);
	fill_random(hd->regions, sizeof(hd->regions), h->seed + 1);
	atomic_store(&hd->magic, 0);
	legit(h, 5, 500);
	uint64_t t0 = now_ns();
	while (honest_total() - before < PROGRESS && ms_since(t0) < 10000)
		usleep(1000); /* polling a counter, with a deadline */
	CHECK(honest_total() - before >= PROGRESS);
	memcpy(hd->regions, regions, sizeof(regions));
	memcpy((unsigned char *)hd + 8, save + 8, sizeof(save) - 8);
	atomic_store(&hd->magic, SHMQ_MAGIC);
	return EXPECT_SERVED;
}

/* Every header field but the magic rewritten with random bytes, over and
 * over for a second, the server's futex word woken each time: versions,
 * features, sizes, server identity, epoch, region count and table, state,
 * srv_seq, conn_seq. The server and the honest clients keep going; then the
 * fields a newcomer reads are put back (srv_seq and conn_seq keep whatever
 * they hold now). */
static int h_header_fields(struct hctx *h, int arg)
{
	(void)arg;
	struct seg_header *hd = h->hdr;
	static struct seg_header save; /* a copy of shared memory: bytes only */
	memcpy(&save, hd, sizeof(save));
	uint64_t before = honest_total();
	uint64_t end = now_ns() + 1000000000ull, n = 0;
	while (now_ns() < end) {
		fill_random((unsigned char *)hd + 8, sizeof(*hd) - 8, h->seed + n++);
		syscall(SYS_futex, (uint32_t *)&hd->srv_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
	CHECK_EQ(atomic_load(&hd->magic), SHMQ_MAGIC);
	uint64_t during = honest_total() - before;
	if (during < PROGRESS) {
		fprintf(stderr,
			"hostile: header rewritten %llu times in 1 s: honest clients did only "
			"%llu requests\n",
			(unsigned long long)n, (unsigned long long)during);
		exit(1);
	}
	uint32_t srv_seq = atomic_load(&hd->srv_seq), conn_seq = atomic_load(&hd->conn_seq);
	memcpy((unsigned char *)hd + 8, (unsigned char *)&save + 8, sizeof(*hd) - 8);
	atomic_store(&hd->srv_seq, srv_seq);
	atomic_store(&hd->conn_seq, conn_seq);
	srv_bell(hd);
	legit(h, 3, 300);
	return EXPECT_SERVED;
}

/* Slot o, which nobody holds, must be reset by the server: FREE under the
 * next generation. */
static void wait_healed(struct slot_ctl *o, uint32_t gen, const char *what)
{
	uint64_t t0 = now_ns();
	while (atomic_load(&o->state) != SLOT_FREE || atomic_load(&o->gen) != gen) {
		if (ms_since(t0) > BAN_MS) {
			fprintf(stderr,
				"hostile: other slot not reset after %s (state %u gen %u, "
				"want gen %u)\n",
				what, atomic_load(&o->state), atomic_load(&o->gen), gen);
			exit(1);
		}
		usleep(500); /* polling the segment, with a deadline */
	}
}

/* Garbage in another, free, slot's control block and rings. */
static int h_other_slot(struct hctx *h, int arg)
{
	(void)arg;
	uint32_t j = SLOTS;
	for (uint32_t i = 0; i < SLOTS; i++)
		if (i != h->slot && atomic_load(&raw_slot(&h->raw, i)->state) == SLOT_FREE)
			j = i;
	CHECK(j < SLOTS);
	struct slot_ctl *o = raw_slot(&h->raw, j);
	unsigned char *data = slot_req_data(o);
	uint32_t gen = atomic_load(&o->gen);

	/* 1. Random bytes over its control block. */
	fill_random(o, sizeof(*o), h->seed);
	if (atomic_load(&o->state) == SLOT_FREE)
		atomic_store(&o->state, 0x77u);
	atomic_fetch_add(&h->hdr->conn_seq, 1);
	wait_healed(o, ++gen, "random bytes");

	/* 2. Marked connected, with garbage queued. */
	fill_random(data, 256, h->seed + 1);
	rec_put(data, 0, BIG_LEN, rec_seal(0));
	atomic_store(&o->req.prod, 256);
	atomic_store(&o->state, SLOT_CONNECTED);
	atomic_fetch_add(&h->hdr->conn_seq, 1);
	srv_bell(h->hdr);
	wait_healed(o, ++gen, "garbage queued");

	/* 3. Marked connected, with a well-formed request queued. */
	fill_random(data + rec_payload_off(REC_REQUEST), 64, h->seed + 2);
	rec_put_id(data, 0, 1);
	rec_end(data, rec_size(64, REC_REQUEST));
	rec_put(data, 0, 64 | REC_REQUEST, rec_seal(0));
	atomic_store(&o->req.prod, rec_size(64, REC_REQUEST));
	atomic_store(&o->state, SLOT_CONNECTED);
	atomic_fetch_add(&h->hdr->conn_seq, 1);
	srv_bell(h->hdr);
	wait_healed(o, ++gen, "a request queued");

	legit(h, 3, 100);
	return EXPECT_SERVED;
}

#define RING_CASE(a)                                                                               \
	{                                                                                          \
		NULL, h_ring, a                                                                    \
	}

static const struct hcase hcases[] = {
    RING_CASE(RA_RANDOM),
    RING_CASE(RA_HUGE_LEN),
    RING_CASE(RA_OVER_MAX),
    RING_CASE(RA_PAST_END),
    RING_CASE(RA_ID_OVERRUN),
    RING_CASE(RA_WRONG_TYPE), /* REC_REPLY in a request ring */
    RING_CASE(RA_BOTH_TYPES),
    RING_CASE(RA_PAD_MID),
    RING_CASE(RA_PAD_END),
    RING_CASE(RA_PAD_FLAG),
    RING_CASE(RA_TWO_PADS),
    RING_CASE(RA_UNSEALED),
    RING_CASE(RA_NEXT_LAP),
    RING_CASE(RA_BEYOND),
    RING_CASE(RA_BACKWARDS),
    {"record length flipping while the server reads it", h_toctou, 0},
    {"slot state set to FREE", h_state, SLOT_FREE},
    {"slot state set to CLAIMED", h_state, SLOT_CLAIMED},
    {"slot state set to BANNED by the client", h_state, SLOT_BANNED},
    {"slot state set to 0x7a3b91c2", h_state, 0x7a3b91c2},
    {"slot state flipped at random for 300 ms", h_state_flip, 0},
    {"garbage queued, then a leave", h_leave_garbage, 0},
    {"rep.cons moved backwards", h_rep_cons, 0},
    {"rep.cons moved far ahead", h_rep_cons, 1},
    {"random bytes over the whole slot_ctl", h_random_ctl, 0},
    {"identity, counters and own doorbell scribbled", h_identity, 0},
    {"server futex word srv_seq rung and own srv.waiting/never_sleeps/state scribbled in a "
     "tight loop for 1 s",
     h_flood, 0},
    {"header conn_seq bumped in a tight loop for 1 s", h_flood, 1},
    {"header magic, line 0 and region table scribbled (then restored)", h_header, 0},
    {"every header field but the magic rewritten in a loop for 1 s", h_header_fields, 0},
    {"garbage in another free slot", h_other_slot, 0},
};

#define NHCASES (sizeof(hcases) / sizeof(hcases[0]))

static const char *hcase_name(const struct hcase *hc)
{
	return hc->name ? hc->name : ra_name[hc->arg];
}

static shmq_client *connect_retry(const shmq_config *cfg, const char *who)
{
	uint64_t t0 = now_ns();
	for (;;) {
		shmq_client *c;
		int rc = shmq_client_connect(&c, cfg);
		if (rc == 0)
			return c;
		if (rc != -EUSERS || ms_since(t0) > 5000) {
			fprintf(stderr, "%s: connect: %s\n", who, shmq_strerror(rc));
			exit(1);
		}
		usleep(2000); /* a slot is freed by the server's housekeeping */
	}
}

/* The server's own view: it serves (or stopped serving) this pid in slot. */
static void wait_served(uint32_t slot, pid_t pid, int yes)
{
	uint64_t t0 = now_ns();
	while ((atomic_load(&B->served[slot]) == pid) != yes) {
		if (ms_since(t0) > (yes ? 5000 : BAN_MS)) {
			fprintf(stderr, "hostile: server %s slot %u after %d ms\n",
				yes ? "never served" : "still serves", slot, yes ? 5000 : BAN_MS);
			exit(1);
		}
		usleep(200); /* polling what the server publishes, with a deadline */
	}
}

static void expect_outcome(struct hctx *h, int outcome, uint64_t t0)
{
	pid_t me = getpid();
	if (outcome == EXPECT_SERVED) {
		CHECK_EQ(atomic_load(&B->served[h->slot]), me);
		return;
	}
	wait_served(h->slot, me, 0);
	if (outcome == EXPECT_BAN) {
		/* Usually the server writes BANNED before it stops listing us;
		 * but a client that also left is unlisted (draining) as soon as
		 * a rescan sees it, and banned when the drain reaches its
		 * garbage: wait for that, with the ban's deadline. */
		uint64_t end = now_ns() + (uint64_t)BAN_MS * 1000000u;
		uint32_t st;
		while ((st = atomic_load(&h->ctl->state)) != SLOT_BANNED && now_ns() < end)
			usleep(200); /* polling what the server publishes, with a deadline */
		if (st != SLOT_BANNED)
			fprintf(stderr, "hostile: slot state %u after the ban\n", st);
		CHECK_EQ(st, SLOT_BANNED);
	}
	uint64_t ms = ms_since(t0);
	uint64_t prev = atomic_load(&B->ban_ms_max);
	while (ms > prev && !atomic_compare_exchange_weak(&B->ban_ms_max, &prev, ms))
		;
	int rc = shmq_client_send(h->c, "x", 1, 0);
	if (outcome == EXPECT_BAN)
		CHECK_EQ(rc, -ECONNRESET);
	else
		CHECK(rc == -ECONNRESET || rc == -EPROTO);
}

static void hostile_main(const shmq_config *cfg, size_t k)
{
	const struct hcase *hc = &hcases[k];
	struct hctx h = {.seed = 0x4057111e0000ull + k};
	h.c = connect_retry(cfg, "hostile");
	h.slot = shmq_client_self(h.c).slot;
	raw_map(&h.raw, cfg);
	h.hdr = raw_hdr(&h.raw);
	h.ctl = raw_slot(&h.raw, h.slot);
	h.req = slot_req_data(h.ctl);
	wait_served(h.slot, getpid(), 1);

	int outcome = hc->run(&h, hc->arg);
	expect_outcome(&h, outcome, now_ns());
	raw_unmap(&h.raw);
	/* Leave both ways: by the book, or by just exiting. */
	if (k & 1)
		_exit(0);
	shmq_client_close(h.c);
	exit(0);
}

/* ---- the orchestrator ---------------------------------------------------- */

/* After the round: the honest clients complete more requests. */
static void expect_progress(const pid_t *honest, pid_t srv, const char *what)
{
	uint64_t start[NHONEST];
	for (int k = 0; k < NHONEST; k++)
		start[k] = atomic_load(&B->honest_done[k]);
	uint64_t t0 = now_ns();
	for (int k = 0; k < NHONEST; k++) {
		while (atomic_load(&B->honest_done[k]) - start[k] < PROGRESS) {
			check_alive(honest[k], what);
			check_alive(srv, what);
			if (ms_since(t0) > 10000) {
				fprintf(stderr, "%s: honest client %d starved\n", what, k);
				exit(1);
			}
			usleep(1000); /* polling a counter, with a deadline */
		}
	}
}

/* Two newcomers fill the two slots not taken by honest clients: one of them
 * is the hostile client's old slot. Each is served, then leaves. */
static void probe_slots(const shmq_config *cfg)
{
	shmq_client *c[SLOTS - NHONEST];
	unsigned char req[64], rep[64];
	for (size_t i = 0; i < SLOTS - NHONEST; i++)
		c[i] = connect_retry(cfg, "probe");
	for (size_t i = 0; i < SLOTS - NHONEST; i++) {
		fill_random(req, sizeof(req), i);
		CHECK_EQ(shmq_client_request(c[i], req, sizeof(req), rep, sizeof(rep), 5000),
			 (ssize_t)sizeof(req));
		CHECK(is_reply(req, rep, sizeof(req)));
	}
	for (size_t i = 0; i < SLOTS - NHONEST; i++)
		CHECK_EQ(shmq_client_close(c[i]), 0);
}

static int part_a(int posix)
{
	memset(B, 0, sizeof(*B));
	shmq_config cfg = test_config(0, posix);
	cfg.slots = SLOTS;
	cfg.ring_size = RING;
	int ready[2];
	xpipe(ready);
	char c;
	pid_t srv = fork_kid(110);
	if (srv == 0)
		server_main(&cfg, ready[1]);
	CHECK_EQ(get_within(ready[0], &c, 1, 10000), 0);
	pid_t honest[NHONEST];
	for (uint32_t k = 0; k < NHONEST; k++) {
		if ((honest[k] = fork_kid(110)) == 0)
			honest_main(&cfg, k, ready[1]);
		CHECK_EQ(get_within(ready[0], &c, 1, 10000), 0);
	}
	close(ready[0]);
	close(ready[1]);

	int rounds = 0;
	uint64_t t0 = now_ns();
	for (size_t k = 0; k < NHCASES; k++) {
		const struct hcase *hc = &hcases[k];
		char what[160];
		snprintf(what, sizeof(what), "hostile client (%s) case %zu \"%s\"",
			 posix ? "posix" : "sysv", k, hcase_name(hc));
		pid_t h = fork_kid(110);
		if (h == 0)
			hostile_main(&cfg, k);
		reap_zero(h, 30000, what);
		check_alive(srv, what);
		expect_progress(honest, srv, what);
		probe_slots(&cfg);
		rounds++;
	}
	uint64_t ms = ms_since(t0);

	atomic_store(&B->stop_honest, 1);
	for (int k = 0; k < NHONEST; k++)
		reap_zero(honest[k], 60000, "honest client");
	atomic_store(&B->stop_server, 1);
	reap_zero(srv, 10000, "server");
	check_nothing_left(&cfg);
	printf("hostile client (%s): %d cases in %llu ms; honest clients completed %llu + %llu "
	       "requests, all verified; server answered %llu other messages; slowest "
	       "disconnection %llu ms after its attack; %llu flipping records taken intact before "
	       "the ban\n",
	       posix ? "posix" : "sysv", rounds, (unsigned long long)ms,
	       (unsigned long long)atomic_load(&B->honest_done[0]),
	       (unsigned long long)atomic_load(&B->honest_done[1]),
	       (unsigned long long)atomic_load(&B->other_msgs),
	       (unsigned long long)atomic_load(&B->ban_ms_max),
	       (unsigned long long)atomic_load(&B->toctou_intact));
	return rounds;
}

/* ====================================================================== */
/* Part B: a hostile server                                               */
/* ====================================================================== */

#define B_LEGIT 5 /* requests answered by the book before the attack */

/* What the client child does in a loop: request/reply, one-way sends, or
 * three pipelined requests at a time whose replies it takes out of order. */
enum { V_REQUEST, V_SEND, V_PIPE };

struct report {
	int32_t err;   /* the call that failed */
	int32_t err2;  /* the next call */
	uint32_t ok;   /* replies received intact */
	uint32_t bad;  /* replies received wrong, or too long */
	uint64_t ms;   /* how long the failing call took */
	uint64_t late; /* shmq_client_stat: replies discarded */
	int64_t drain; /* the last shmq_client_recv, with bcase.drain */
};

struct bctx {
	shmq_server *s;
	struct raw raw;
	struct seg_header *hdr;
	struct slot_ctl *ctl;
	unsigned char *rep; /* the client's reply ring's data */
	int res_fd;	    /* the client's report arrives here */
	uint64_t seed;
	unsigned char *buf; /* the last request taken */
	size_t len;
	shmq_msg m; /* and what the server said of it (from, id, flags) */
};

struct bcase {
	const char *name;
	void (*attack)(struct bctx *b, int arg);
	int arg;
	int mode;	/* V_REQUEST, V_SEND or V_PIPE */
	int timeout_ms; /* of the client's calls */
	int expect[2];	/* acceptable errors */
	int extra_ok;	/* replies the client takes intact after the legit ones */
	int late;	/* replies it must have discarded (late_replies) */
	int drain;	/* at the end, one more shmq_client_recv: the push "end" */
};

#define END_MARK "end"

/* Three requests in flight, then their replies: the middle one by its id,
 * then the two others with SHMQ_ANY_REQUEST. Each reply is matched to its
 * request by id and checked byte for byte. 0, or the first error. */
static int pipe_round(shmq_client *c, unsigned char *const req[3], unsigned char *rep,
		      size_t cap, uint32_t seq, int timeout_ms, struct report *r)
{
	uint64_t id[3];
	size_t n[3];
	int answered[3] = {0};
	for (int j = 0; j < 3; j++) {
		n[j] = make_req(req[j], 7, seq + (uint32_t)j);
		uint64_t t0 = now_ns();
		int rc = shmq_client_send_request(c, req[j], n[j], &id[j], timeout_ms);
		if (rc < 0) {
			r->ms = ms_since(t0);
			return rc;
		}
	}
	CHECK(id[0] != id[1] && id[1] != id[2] && id[0] != id[2]);
	for (int j = 0; j < 3; j++) {
		shmq_msg m = {0};
		uint64_t t0 = now_ns();
		ssize_t got = shmq_client_recv_reply(c, j == 0 ? id[1] : SHMQ_ANY_REQUEST, rep, cap,
						     &m, timeout_ms);
		if (got < 0) {
			r->ms = ms_since(t0);
			return (int)got;
		}
		int k = -1;
		for (int i = 0; i < 3; i++)
			if (!answered[i] && id[i] == m.id)
				k = i;
		if (k < 0 || (j == 0 && k != 1) || !(m.flags & SHMQ_MSG_REPLY) ||
		    m.len != (size_t)got || (size_t)got != n[k] || !is_reply(req[k], rep, n[k])) {
			r->bad++;
		} else {
			answered[k] = 1;
			r->ok++;
		}
	}
	return 0;
}

/* The client child: request/reply (or sends) until a call fails. */
static void victim_main(const shmq_config *cfg, const struct bcase *bc, int fd)
{
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, cfg), 0);
	size_t cap = shmq_client_max_msg(c);
	unsigned char *req[3] = {xmalloc(cap), xmalloc(cap), xmalloc(cap)};
	unsigned char *rep = xmalloc(cap); /* exactly what a reply may fill */
	struct report r = {0};
	for (uint32_t seq = 0; seq < 1000; seq++) {
		if (bc->mode == V_PIPE) {
			int rc = pipe_round(c, req, rep, cap, seq, bc->timeout_ms, &r);
			seq += 2;
			if (rc < 0) {
				r.err = rc;
				break;
			}
			continue;
		}
		size_t n = 1000;
		if (bc->mode == V_REQUEST)
			n = make_req(req[0], 7, seq);
		else
			fill_random(req[0], n, seq);
		uint64_t t0 = now_ns();
		ssize_t got = bc->mode == V_REQUEST
				  ? shmq_client_request(c, req[0], n, rep, cap, bc->timeout_ms)
				  : shmq_client_send(c, req[0], n, bc->timeout_ms);
		if (got < 0) {
			r.err = (int32_t)got;
			r.ms = ms_since(t0);
			break;
		}
		if (bc->mode == V_REQUEST && ((size_t)got != n || !is_reply(req[0], rep, n)))
			r.bad++;
		else
			r.ok++;
	}
	/* Once broken, the next call fails too, and promptly. */
	r.err2 = (int32_t)shmq_client_request(c, req[0], 16, rep, cap, 100);
	if (bc->drain)
		r.drain = shmq_client_recv(c, rep, cap, 5000);
	shmq_client_stats st;
	CHECK_EQ(shmq_client_stat(c, &st), 0);
	r.late = st.late_replies;
	shmq_client_close(c);
	for (int j = 0; j < 3; j++)
		free(req[j]);
	free(rep);
	put(fd, &r, sizeof(r));
	exit(0);
}

static int report_ready(struct bctx *b)
{
	struct pollfd pfd = {.fd = b->res_fd, .events = POLLIN};
	return poll(&pfd, 1, 0) > 0;
}

/* Take one request and leave it unanswered: the client now waits. */
static void b_take(struct bctx *b)
{
	ssize_t n = shmq_server_recv(b->s, b->buf, shmq_server_max_msg(b->s), &b->m, 10000);
	CHECK(n >= 0);
	CHECK(b->m.flags & SHMQ_MSG_REQUEST);
	b->len = (size_t)n;
}

/* Answer request m (its bytes in buf) by the book. */
static void b_reply(struct bctx *b, const shmq_msg *m, unsigned char *buf, size_t len)
{
	unsigned char *out = xmalloc(len);
	xor_bytes(out, buf, len);
	CHECK_EQ(shmq_server_reply(b->s, m, out, len, 5000), 0);
	free(out);
}

/* Answer the request taken. */
static void b_answer(struct bctx *b)
{
	b_reply(b, &b->m, b->buf, b->len);
}

static void b_serve(struct bctx *b)
{
	b_take(b);
	b_answer(b);
}

/* A reply to request m that claims the id `id`, through the library (which
 * cannot know which ids its client used): same length as the true reply,
 * other bytes, so that the client cannot take it for the true one. */
static void b_forged(struct bctx *b, const shmq_msg *m, uint64_t id, size_t len)
{
	shmq_msg f = *m;
	f.id = id;
	unsigned char *junk = xmalloc(len);
	fill_random(junk, len, b->seed + id);
	CHECK_EQ(shmq_server_reply(b->s, &f, junk, len, 5000), 0);
	free(junk);
}

/* The endpoint state the server keeps for this client in its slot: what
 * a connected client reads to learn that the server shuts down or closed. */
static void b_set_srv_state(struct bctx *b, uint32_t value)
{
	atomic_store(&b->ctl->srv.state, value);
	ring_bell(&b->ctl->cli_ev);
}

/* Wake the client the way a server does, and wait until it has gone round
 * its wait loop twice: it has polled its ring at least once since. */
static void b_client_polled(struct bctx *b)
{
	for (int i = 0; i < 2; i++) {
		atomic_store(&b->ctl->cli_ev.waiting, 0);
		ring_bell(&b->ctl->cli_ev);
		uint64_t t0 = now_ns();
		while (!atomic_load(&b->ctl->cli_ev.waiting)) {
			CHECK(ms_since(t0) < 5000);
			usleep(100); /* polling the client's flag, with a deadline */
		}
	}
}

/* Take the client's next request and close on it: it fails with -EPIPE. */
static void b_close_on_next(struct bctx *b)
{
	b_take(b);
	b_set_srv_state(b, EP_CLOSED);
}

static void b_ring(struct bctx *b, int a)
{
	/* Answer by the book until the reply ring stands where the attack
	 * means something. */
	for (int i = 0; ra_unsuitable((enum ring_attack)a,
				      (uint32_t)atomic_load(&b->ctl->rep.prod) & (RING - 1));
	     i++) {
		CHECK(i < 200);
		b_serve(b);
	}
	b_take(b);
	ring_attack((enum ring_attack)a, b->rep, &b->ctl->rep, atomic_load(&b->ctl->rep.prod),
		    b->seed, REC_REPLY);
	ring_bell(&b->ctl->cli_ev);
	if (a < RA_HARMLESS)
		return;
	/* Ignored: once the client has looked at it, the reply by the book
	 * (at the position of the garbage) reaches it intact; then close. */
	b_client_polled(b);
	b_answer(b);
	b_close_on_next(b);
}

/* The slot's srv.state, the endpoint's state for this client, set while the
 * client waits for a reply: CLOSED is -EPIPE, a value no server writes for a
 * connected client is -EPROTO. */
static void b_srv_state(struct bctx *b, int value)
{
	b_take(b);
	b_set_srv_state(b, (uint32_t)value);
}

/* srv.state set to DRAINING while the client waits for a reply: the reply
 * still comes (a shutting-down server answers), the next request does not
 * go out (-EPIPE). */
static void b_srv_draining(struct bctx *b, int arg)
{
	(void)arg;
	b_take(b);
	b_set_srv_state(b, EP_DRAINING);
	b_client_polled(b);
	b_answer(b);
}

/* The header's state, which a connected client no longer reads (its slot's
 * srv.state is what the server tells it, out of other clients' reach): the
 * client is served on, until its srv.state says CLOSED. */
static void b_hdr_state(struct bctx *b, int value)
{
	b_take(b);
	atomic_store(&b->hdr->state, (uint32_t)value);
	ring_bell(&b->ctl->cli_ev);
	b_client_polled(b);
	b_answer(b);
	b_close_on_next(b);
}

static void b_slot_state(struct bctx *b, int value)
{
	b_take(b);
	atomic_store(&b->ctl->state, (uint32_t)value);
	ring_bell(&b->ctl->cli_ev);
}

static void b_random_ctl(struct bctx *b, int arg)
{
	(void)arg;
	b_take(b);
	fill_random(b->ctl, sizeof(*b->ctl), b->seed);
	ring_bell(&b->ctl->cli_ev);
}

/* No reply: silently (arg 0), or ringing the client's doorbell all along. */
static void b_silent(struct bctx *b, int noisy)
{
	b_take(b);
	uint64_t t0 = now_ns();
	while (noisy && !report_ready(b) && ms_since(t0) < 5000)
		for (int i = 0; i < 64; i++)
			ring_bell(&b->ctl->cli_ev);
}

/* The slot state flipped at random while the client waits, BANNED last. */
static void b_state_flip(struct bctx *b, int arg)
{
	(void)arg;
	static const uint32_t v[] = {SLOT_FREE, SLOT_CLAIMED, SLOT_LEAVING, SLOT_BANNED, 9u};
	b_take(b);
	uint64_t s = b->seed, end = now_ns() + 100000000ull;
	while (now_ns() < end) {
		uint64_t x = xorshift64(&s);
		atomic_store(&b->ctl->state, x & 1 ? SLOT_CONNECTED : v[(x >> 1) % 5]);
	}
	atomic_store(&b->ctl->state, SLOT_BANNED);
	ring_bell(&b->ctl->cli_ev);
}

/* Wait for the client's next request, or its report; 1 if a request. */
static int b_next(struct bctx *b)
{
	uint64_t t0 = now_ns();
	while (!report_ready(b)) {
		ssize_t n =
		    shmq_server_recv(b->s, b->buf, shmq_server_max_msg(b->s), &b->m, 10);
		if (n >= 0) {
			b->len = (size_t)n;
			return 1;
		}
		CHECK_EQ(n, -ETIMEDOUT);
		CHECK(ms_since(t0) < 5000);
	}
	return 0;
}

/* Correct replies (the request's id, its bytes) whose length flips to huge
 * while the client reads them: the client reads each length once, and
 * either takes the reply intact or fails with -EPROTO. If it never catches
 * one huge, a bad record ends it. */
static void b_toctou(struct bctx *b, int arg)
{
	(void)arg;
	struct flipper f;
	flip_start(&f, 0, REC_REPLY);
	uint64_t p = atomic_load(&b->ctl->rep.prod);
	int n;
	for (n = 0; n < 300 && b_next(b); n++) {
		/* The client sent another request: it has taken our reply. */
		flip_park(&f);
		uint32_t len = (uint32_t)b->len;
		CHECK(len <= PAYLOAD_MAX + sizeof(struct mhdr));
		p = pad_if_short(b->rep, p, rec_size(len, REC_REPLY) + REC_HDR_SIZE);
		xor_bytes(b->rep + (p & (RING - 1)) + rec_payload_off(REC_REPLY), b->buf, len);
		f.len = len;
		flip_record(&f, b->rep, p, len, b->m.id);
		ring_bell(&b->ctl->cli_ev);
		p += rec_size(len, REC_REPLY);
	}
	flip_stop(&f);
	if (n == 300) {
		p = pad_if_short(b->rep, p, rec_size(0, REC_REPLY) + REC_HDR_SIZE);
		rec_put_id(b->rep, p, b->m.id);
		rec_put(b->rep, p, BIG_LEN | REC_REPLY, rec_seal(p));
		ring_bell(&b->ctl->cli_ev);
	}
}

/* Replies with ids the client never used, or no longer waits for, before
 * and among the true ones: each is discarded and counted, never returned,
 * and the true replies still arrive. arg 0: one request at a time; arg 1:
 * three pipelined requests answered out of order, one of them twice. */
static void b_bogus_ids(struct bctx *b, int pipelined)
{
	b_take(b);
	uint64_t x = b->m.id;
	CHECK(x > 1 && x < (1ull << 32)); /* ids the client used are below x */
	const uint64_t bogus[] = {0, x - 1, x + 1, x + (1ull << 32), SHMQ_ANY_REQUEST};
	for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++)
		b_forged(b, &b->m, bogus[i], b->len);
	b_answer(b);
	if (!pipelined) {
		b_serve(b); /* id x + 1, forged once already: its true reply comes */
		b_close_on_next(b);
		return;
	}
	/* The next round: three requests at once. */
	shmq_msg m[3];
	unsigned char *buf[3];
	size_t len[3];
	for (int j = 0; j < 3; j++) {
		b_take(b);
		m[j] = b->m;
		len[j] = b->len;
		buf[j] = xmalloc(len[j] ? len[j] : 1);
		memcpy(buf[j], b->buf, len[j]);
	}
	b_forged(b, &m[0], 0, len[0]);
	b_reply(b, &m[2], buf[2], len[2]);
	b_forged(b, &m[2], m[2].id, len[2]); /* answered already */
	b_forged(b, &m[2], m[2].id + 1, len[2]);
	b_reply(b, &m[0], buf[0], len[0]);
	b_reply(b, &m[1], buf[1], len[1]);
	for (int j = 0; j < 3; j++)
		free(buf[j]);
	b_close_on_next(b);
}

/* A reply to the very request the client waits for (its id) with a length
 * that cannot be: huge (arg 0), one byte over the largest payload (arg 1),
 * or running past the end of the ring (arg 2). */
static void b_reply_len(struct bctx *b, int kind)
{
	if (kind == 2)
		for (int i = 0; ra_unsuitable(RA_ID_OVERRUN, (uint32_t)atomic_load(&b->ctl->rep.prod) &
								 (RING - 1));
		     i++) {
			CHECK(i < 200);
			b_serve(b);
		}
	b_take(b);
	uint64_t p = atomic_load(&b->ctl->rep.prod);
	uint32_t tail = RING - (uint32_t)(p & (RING - 1));
	uint32_t len = kind == 0 ? BIG_LEN : kind == 1 ? MAXP + 1 : tail;
	if (kind != 2)
		p = pad_if_short(b->rep, p, rec_size(0, REC_REPLY) + REC_HDR_SIZE);
	rec_put_id(b->rep, p, b->m.id);
	rec_put(b->rep, p, len | REC_REPLY, rec_seal(p));
	ring_bell(&b->ctl->cli_ev);
}

/* No reply in time (the client gives up: -EINPROGRESS), then it comes late,
 * once the client waits for another: discarded and counted. The push after
 * it (END_MARK) is what the client's last shmq_client_recv returns. */
static void b_late(struct bctx *b, int arg)
{
	(void)arg;
	b_take(b);
	shmq_msg first = b->m;
	unsigned char *buf = xmalloc(b->len ? b->len : 1);
	size_t len = b->len;
	memcpy(buf, b->buf, len);
	CHECK(b_next(b)); /* it gave up and asks again */
	CHECK(b->m.id != first.id);
	b_reply(b, &first, buf, len);
	free(buf);
	CHECK_EQ(shmq_server_send(b->s, first.from, END_MARK, sizeof(END_MARK), 5000), 0);
}

/* The consumer index of the client's request ring moved backwards (arg 0)
 * or far ahead (arg 1), after the client has seen it move: the client reads
 * it when it needs room. We stop consuming, so it soon needs room. */
static void b_req_cons(struct bctx *b, int ahead)
{
	unsigned char buf[1000], want[1000];
	for (uint32_t seq = 0; seq < 12; seq++) { /* 12 kB through a 4 kB ring */
		shmq_msg m;
		CHECK_EQ(shmq_server_recv(b->s, buf, sizeof(buf), &m, 10000), 1000);
		CHECK_EQ(m.flags, 0);
		fill_random(want, sizeof(want), seq);
		CHECK(memcmp(buf, want, sizeof(buf)) == 0);
	}
	uint64_t cons = atomic_load(&b->ctl->req.cons);
	CHECK(cons > 0);
	atomic_store(&b->ctl->req.cons, ahead ? cons + (1ull << 40) : 0);
	ring_bell(&b->ctl->cli_ev);
}

#define EP  EPROTO
#define EIP EINPROGRESS
static const struct bcase bcases[] = {
    {NULL, b_ring, RA_RANDOM, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_HUGE_LEN, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_OVER_MAX, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_PAST_END, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_ID_OVERRUN, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_WRONG_TYPE, V_REQUEST, 2000, {EP, EP}, 0, 0, 0}, /* REC_REQUEST */
    {NULL, b_ring, RA_BOTH_TYPES, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_PAD_MID, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_PAD_END, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_PAD_FLAG, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_TWO_PADS, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {NULL, b_ring, RA_UNSEALED, V_REQUEST, 2000, {EPIPE, EPIPE}, 1, 0, 0},
    {NULL, b_ring, RA_NEXT_LAP, V_REQUEST, 2000, {EPIPE, EPIPE}, 1, 0, 0},
    {NULL, b_ring, RA_BEYOND, V_REQUEST, 2000, {EPIPE, EPIPE}, 1, 0, 0},
    {NULL, b_ring, RA_BACKWARDS, V_REQUEST, 2000, {EPIPE, EPIPE}, 1, 0, 0},
    {"reply length flipping while the client reads it", b_toctou, 0, V_REQUEST, 2000, {EP, EP},
     0, 0, 0},
    {"srv.state (the endpoint's state in the client's slot) set to CLOSED", b_srv_state,
     EP_CLOSED, V_REQUEST, 2000, {EPIPE, EPIPE}, 0, 0, 0},
    {"srv.state set to INIT", b_srv_state, EP_INIT, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {"srv.state set to 0x5eed", b_srv_state, 0x5eed, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {"srv.state set to DRAINING: the reply still comes, the next request does not go",
     b_srv_draining, 0, V_REQUEST, 2000, {EPIPE, EPIPE}, 1, 0, 0},
    {"header state set to CLOSED (not read once connected)", b_hdr_state, EP_CLOSED, V_REQUEST,
     2000, {EPIPE, EPIPE}, 1, 0, 0},
    {"header state set to 0x5eed (not read once connected)", b_hdr_state, 0x5eed, V_REQUEST,
     2000, {EPIPE, EPIPE}, 1, 0, 0},
    {"slot state set to BANNED", b_slot_state, SLOT_BANNED, V_REQUEST, 2000,
     {ECONNRESET, ECONNRESET}, 0, 0, 0},
    {"slot state set to FREE", b_slot_state, SLOT_FREE, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {"slot state set to 0xc0ffee", b_slot_state, 0xc0ffee, V_REQUEST, 2000, {EP, EP}, 0, 0, 0},
    {"slot state flipped at random for 100 ms", b_state_flip, 0, V_REQUEST, 2000,
     {EP, ECONNRESET}, 0, 0, 0},
    {"random bytes over the whole slot_ctl", b_random_ctl, 0, V_REQUEST, 2000, {EP, ECONNRESET},
     0, 0, 0},
    {"no reply", b_silent, 0, V_REQUEST, 300, {EIP, EIP}, 0, 0, 0},
    {"no reply, doorbell rung in a tight loop", b_silent, 1, V_REQUEST, 300, {EIP, EIP}, 0, 0,
     0},
    {"no reply in time, then a late one while the client waits for another", b_late, 0,
     V_REQUEST, 300, {EIP, EIP}, 0, 1, 1},
    {"replies with ids never used or no longer awaited, before the true one", b_bogus_ids, 0,
     V_REQUEST, 2000, {EPIPE, EPIPE}, 2, 5, 0},
    {"replies with ids never used or no longer awaited, pipelined, out of order", b_bogus_ids, 1,
     V_PIPE, 2000, {EPIPE, EPIPE}, 4, 8, 0},
    {"reply to the awaited id with length 0x1ffffff0", b_reply_len, 0, V_REQUEST, 2000,
     {EP, EP}, 0, 0, 0},
    {"reply to the awaited id one byte over the largest payload", b_reply_len, 1, V_REQUEST,
     2000, {EP, EP}, 0, 0, 0},
    {"reply to the awaited id running past the end of the ring", b_reply_len, 2, V_REQUEST,
     2000, {EP, EP}, 0, 0, 0},
    {"req.cons moved backwards", b_req_cons, 0, V_SEND, 2000, {EP, EP}, 0, 0, 0},
    {"req.cons moved far ahead", b_req_cons, 1, V_SEND, 2000, {EP, EP}, 0, 0, 0},
};
#undef EP
#undef EIP

#define NBCASES (sizeof(bcases) / sizeof(bcases[0]))

static void run_b_case(const struct bcase *bc, size_t k, int posix)
{
	const char *name = bc->name ? bc->name : ra_name[bc->arg];
	shmq_config cfg = test_config(1, posix);
	cfg.slots = 1;
	cfg.ring_size = RING;
	struct bctx b = {.seed = 0xbad5e4e40000ull + k};
	CHECK_EQ(shmq_server_create(&b.s, &cfg), 0);
	b.buf = xmalloc(shmq_server_max_msg(b.s));
	raw_map(&b.raw, &cfg);
	b.hdr = raw_hdr(&b.raw);
	b.ctl = raw_slot(&b.raw, 0);
	b.rep = slot_rep_data(b.ctl, &b.raw.g);

	int res[2];
	xpipe(res);
	pid_t pid = fork_kid(110);
	if (pid == 0) {
		close(res[0]);
		victim_main(&cfg, bc, res[1]);
	}
	close(res[1]);
	b.res_fd = res[0];
	if (bc->mode != V_SEND)
		for (int i = 0; i < B_LEGIT; i++)
			b_serve(&b);
	bc->attack(&b, bc->arg);

	struct report r;
	int got = get_within(res[0], &r, sizeof(r), 10000);
	if (got != 0)
		fprintf(stderr, "hostile server (%s) \"%s\": no report from the client\n",
			posix ? "posix" : "sysv", name);
	CHECK_EQ(got, 0);
	close(res[0]);
	char what[200];
	snprintf(what, sizeof(what), "hostile server (%s) \"%s\"", posix ? "posix" : "sysv", name);
	reap_zero(pid, 5000, what);

	int ok = (r.err == -bc->expect[0] || r.err == -bc->expect[1]) && r.err2 < 0 && r.bad == 0 &&
		 (bc->mode == V_SEND || r.ok >= B_LEGIT + (uint32_t)bc->extra_ok);
	if (bc->timeout_ms < 1000)
		ok = ok && r.ms >= (uint64_t)bc->timeout_ms &&
		     r.ms < (uint64_t)bc->timeout_ms + 1000;
	else
		ok = ok && r.ms < 1500;
	/* Discarded replies: exactly those, counted by the client and
	 * published in its slot. */
	ok = ok && r.late == (uint64_t)bc->late &&
	     (bc->late == 0 || atomic_load(&b.ctl->late_replies) == r.late);
	if (bc->drain)
		ok = ok && r.drain == (int64_t)sizeof(END_MARK);
	if (!ok)
		fprintf(stderr,
			"%s: client got %s (%d) after %llu ms, then %s; %u ok, %u bad, %llu late "
			"(want %d), last recv %lld\n",
			what, shmq_strerror(r.err), r.err, (unsigned long long)r.ms,
			shmq_strerror(r.err2), r.ok, r.bad, (unsigned long long)r.late, bc->late,
			(long long)r.drain);
	CHECK(ok);
	raw_unmap(&b.raw);
	CHECK_EQ(shmq_server_close(b.s), 0);
	free(b.buf);
	check_nothing_left(&cfg);
}


static int part_b(int posix)
{
	uint64_t t0 = now_ns();
	for (size_t k = 0; k < NBCASES; k++)
		run_b_case(&bcases[k], k, posix);
	printf("hostile server (%s): %zu cases in %llu ms; the client failed with the "
	       "expected error each time and exited normally\n",
	       posix ? "posix" : "sysv", NBCASES, (unsigned long long)ms_since(t0));
	return (int)NBCASES;
}

/* ====================================================================== */
/* Part C: hostile clients at a graceful shutdown                         */
/* ====================================================================== */

/* shmq_server_shutdown owes each client what it had committed, by its
 * published prod: a liar that claims a ring of records it never wrote is
 * banned at the first missing one, a liar whose prod is beyond belief is owed
 * nothing, and neither holds up the drain; the honest client gets everything
 * it sent taken (its flush says so) and its requests answered. */

#define C_MSGS 5 /* one-way messages of the honest client */
#define C_REQS 3 /* and its requests */

enum { C_HONEST, C_LIAR_RING, C_LIAR_FAR, C_KINDS };

static void c_child(const shmq_config *cfg, int kind, int ready_fd, int go_fd)
{
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, cfg), 0);
	unsigned char msg[64], rep[64];
	uint64_t ids[C_REQS];
	struct raw raw;
	struct slot_ctl *ctl = NULL;
	if (kind == C_HONEST) {
		for (uint32_t i = 0; i < C_MSGS + C_REQS; i++) {
			fill_random(msg, sizeof(msg), i);
			if (i < C_MSGS)
				CHECK_EQ(shmq_client_send(c, msg, sizeof(msg), 1000), 0);
			else
				CHECK_EQ(shmq_client_send_request(c, msg, sizeof(msg),
								  &ids[i - C_MSGS], 1000),
					 0);
		}
	} else {
		raw_map(&raw, cfg);
		ctl = raw_slot(&raw, shmq_client_self(c).slot);
		/* One message by the book, then a prod that lies. */
		CHECK_EQ(shmq_client_send(c, "liar", 4, 1000), 0);
		uint64_t prod = atomic_load(&ctl->req.prod);
		atomic_store(&ctl->req.prod, kind == C_LIAR_RING ? RING : prod + (1ull << 62));
	}
	put(ready_fd, "r", 1);
	char ch;
	CHECK(get(go_fd, &ch, 1));
	if (kind == C_HONEST) {
		/* Everything sent was taken, and the requests are answered. */
		CHECK_EQ(shmq_client_flush(c, 5000), 0);
		for (uint32_t i = 0; i < C_REQS; i++) {
			shmq_msg m;
			ssize_t n = shmq_client_recv_reply(c, ids[i], rep, sizeof(rep), &m, 5000);
			CHECK_EQ(n, (ssize_t)sizeof(msg));
			CHECK(m.id == ids[i] && (m.flags & SHMQ_MSG_REPLY));
			fill_random(msg, sizeof(msg), C_MSGS + i);
			CHECK(is_reply(msg, rep, sizeof(msg)));
		}
		/* Shutting down: nothing new goes out. */
		CHECK_EQ(shmq_client_send(c, msg, 1, 0), -EPIPE);
	} else if (kind == C_LIAR_RING) {
		uint64_t t0 = now_ns();
		while (atomic_load(&ctl->state) != SLOT_BANNED) {
			CHECK(ms_since(t0) < 5000);
			usleep(1000); /* polling our slot, with a deadline */
		}
		/* Its one message by the book was taken (flush says so); it
		 * may send nothing more. */
		CHECK_EQ(shmq_client_flush(c, 0), 0);
		CHECK_EQ(shmq_client_send(c, "x", 1, 0), -ECONNRESET);
	}
	if (ctl)
		raw_unmap(&raw);
	shmq_client_close(c);
	exit(0);
}

static void part_c(int posix)
{
	shmq_config cfg = test_config(2, posix);
	cfg.slots = SLOTS;
	cfg.ring_size = RING;
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	int ready[2], go[2];
	xpipe(ready);
	xpipe(go);
	pid_t kid[C_KINDS];
	shmq_client_id who[C_KINDS];
	for (int k = 0; k < C_KINDS; k++) {
		if ((kid[k] = fork_kid(60)) == 0) {
			close(ready[0]);
			close(go[1]);
			c_child(&cfg, k, ready[1], go[0]);
		}
		char ch;
		CHECK_EQ(get_within(ready[0], &ch, 1, 10000), 0);
	}
	/* Which slot is whose: the order they connected in. */
	shmq_client_info info[SLOTS];
	CHECK_EQ(shmq_server_clients(s, info, SLOTS), C_KINDS);
	for (int k = 0; k < C_KINDS; k++) {
		who[k] = info[k].id;
		for (int j = 0; j < C_KINDS; j++)
			if (info[j].pid == kid[k])
				who[k] = info[j].id;
	}

	uint64_t t0 = now_ns();
	CHECK_EQ(shmq_server_shutdown(s), 0);
	CHECK_EQ(shmq_server_shutdown(s), -EALREADY);
	shmq_client *late;
	CHECK_EQ(shmq_client_connect(&late, &cfg), -ESHUTDOWN);
	CHECK(write(go[1], "ggg", C_KINDS) == C_KINDS);

	unsigned char buf[RING], want[64];
	uint32_t honest = 0, from_ring_liar = 0;
	for (;;) {
		shmq_msg m;
		ssize_t n = shmq_server_recv(s, buf, sizeof(buf), &m, 1000);
		if (n == -ESHUTDOWN)
			break;
		CHECK(n >= 0);
		CHECK(ms_since(t0) < 2000);
		if (m.from.slot == who[C_HONEST].slot) {
			CHECK_EQ(n, (ssize_t)sizeof(want));
			fill_random(want, sizeof(want), honest);
			CHECK(memcmp(buf, want, sizeof(want)) == 0);
			CHECK_EQ(!!(m.flags & SHMQ_MSG_REQUEST), honest >= C_MSGS);
			if (m.flags & SHMQ_MSG_REQUEST) {
				xor_bytes(buf, buf, (size_t)n);
				CHECK_EQ(shmq_server_reply(s, &m, buf, (size_t)n, 1000), 0);
			}
			honest++;
		} else {
			/* The far liar is owed nothing: only the other's one
			 * message by the book comes. */
			CHECK_EQ(m.from.slot, who[C_LIAR_RING].slot);
			CHECK(n == 4 && memcmp(buf, "liar", 4) == 0);
			from_ring_liar++;
		}
	}
	uint64_t ms = ms_since(t0);
	CHECK_EQ(honest, C_MSGS + C_REQS);
	CHECK_EQ(from_ring_liar, 1);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, 0), -ESHUTDOWN);
	for (int k = 0; k < C_KINDS; k++)
		reap_zero(kid[k], 10000, "shutdown client");
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing_left(&cfg);
	printf("hostile clients at shutdown (%s): drained in %llu ms; the honest client's %d "
	       "messages taken and answered, the liar about a full ring banned, the liar beyond "
	       "belief owed nothing\n",
	       posix ? "posix" : "sysv", (unsigned long long)ms, C_MSGS + C_REQS);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup(115);
	CHECK_EQ(MAXP, ring_max_payload(RING));
	for (int n = 0; n < 3; n++) {
		for (int posix = 0; posix < 2; posix++) {
			shmq_config cfg = test_config(n, posix);
			ep_track(&cfg);
		}
	}
	void *p = mmap(NULL, sizeof(*B), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	B = p;

	int a = part_a(0) + part_a(1);
	int b = part_b(0) + part_b(1);
	part_c(0);
	part_c(1);
	printf("hostile: %d hostile-client rounds, %d hostile-server cases and 2 shutdowns with "
	       "lying clients, all passed\n",
	       a, b);
	return 0;
}
