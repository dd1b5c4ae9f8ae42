/* SPDX-License-Identifier: MIT */
/*
 * shmq-bridge: shmq endpoints <-> NATS subjects.
 *
 * Overview
 *   export: NATS subject -> the local shmq server. The bridge is a shmq
 *           client; each NATS request becomes a correlated shmq request and
 *           its reply is published to the request's NATS reply subject.
 *   import: local shmq clients -> NATS subject. The bridge is a shmq server;
 *           each shmq request becomes a NATS request (to a reply subject of
 *           the bridge's own inbox) and the NATS reply goes back with
 *           shmq_server_reply.
 *   One-way messages pass one-way in both directions. Many requests may be
 *   outstanding at once and replies may come in any order: a pending table
 *   (struct ptable) maps each to its way back.
 *
 * Failure is never silent
 *   A request the bridge took is answered exactly once: by the real reply or
 *   by an error reply, a payload starting with BRIDGE_ERR_PREFIX (a NUL byte,
 *   so no text reply looks like one) followed by the reason. The cases: no
 *   reply before --timeout, no responders on NATS, NATS connection closed,
 *   message too large for the other side, shmq endpoint gone. Only what
 *   cannot be answered (a reply that NATS or the shmq client can no longer
 *   take, a one-way message that cannot be delivered, a NATS message that
 *   NATS itself dropped as a slow consumer's) is counted instead, and every
 *   counter is printed on exit.
 *
 * Threads
 *   The shmq handle is used by the main thread only (one thread per handle,
 *   as shmq.h asks). libnats runs its own threads; what they hand over goes
 *   through a mutex-protected queue (import) or a synchronous subscription
 *   that the main thread polls (export). Counters that libnats callbacks
 *   touch are atomics.
 */
#ifndef SHMQ_BRIDGE_H
#define SHMQ_BRIDGE_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include <nats/nats.h>

#include "common.h"

/* An error reply: these bytes, then a reason in words. */
#define BRIDGE_ERR_PREFIX     "\0shmq-bridge-error: "
#define BRIDGE_ERR_PREFIX_LEN (sizeof(BRIDGE_ERR_PREFIX) - 1)

#define BRIDGE_DEFAULT_URL "nats://127.0.0.1:4222"

struct bridge_opts {
	shmq_config cfg;
	const char *url;     /* one URL or a comma-separated list */
	const char *subject;
	const char *queue;   /* export: NATS queue group, or NULL */
	int timeout_ms;      /* a request's deadline, from when the bridge took it */
	unsigned max_inflight;
	int connect_tries;   /* at start */
	int connect_wait_ms;
	int reconnects;      /* mid-stream, per loss */
	int reconnect_wait_ms;
	int quiet;
	int batch;           /* let libnats gather publishes (up to ~1 ms) */
};

/* Counters updated from libnats threads. */
struct nats_events {
	atomic_uint_fast64_t disconnects;
	atomic_uint_fast64_t reconnects;
	atomic_uint_fast64_t slow_consumer;
	atomic_int closed;
};

extern volatile sig_atomic_t bridge_stop; /* the signal that asked us to stop */
/* Around libnats calls that start threads (see main.c). */
void bridge_sig_block(void);
void bridge_sig_unblock(void);

/* Connect to NATS, with opts->connect_tries attempts; reconnects mid-stream
 * as the options say. Prints the error and returns NULL on failure. */
natsConnection *bridge_nats_connect(const struct bridge_opts *o, struct nats_events *ev);
/* Publish an error reply for reason to subject. */
natsStatus bridge_nats_error_reply(natsConnection *nc, const char *subject, const char *reason);
/* Fill buf (cap >= BRIDGE_ERR_PREFIX_LEN + 1) with an error payload; returns its length. */
size_t bridge_error_payload(char *buf, size_t cap, const char *reason);
/* At a stop: make sure NATS has what we published (or say what it lacks). */
void bridge_nats_finish(natsConnection *nc, struct nats_events *ev);
void bridge_nats_close(natsConnection *nc);
int bridge_nats_up(natsConnection *nc);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t now_ms(void);

/* ---- pending table --------------------------------------------------------
 * Requests in the order the bridge took them, each with a sequence number
 * (from 1) and a deadline. All deadlines are taken + the same timeout, so the
 * oldest live entry always expires first: expiry looks at the head only.
 * Entries leave in any order; the head skips the holes. An entry is found by
 * seq in O(1) (import's reply subjects carry it), or by shmq request id
 * through a small open-addressing hash (export). */
struct pend {
	uint64_t seq;  /* 0: free */
	int64_t deadline;
	uint64_t id;   /* export: the shmq request id */
	char *reply;   /* export: the NATS reply subject (owned) */
	shmq_msg req;  /* import: the shmq request (from, id, flags) */
};

struct ptable {
	struct pend *v;
	uint64_t mask; /* capacity - 1, capacity a power of two */
	uint64_t head; /* oldest seq that may be live */
	uint64_t next; /* next seq to hand out */
	size_t live;
	uint64_t *hkey; /* export: shmq id -> seq (0: empty) */
	uint64_t *hseq;
	uint64_t hmask;
};

int ptable_init(struct ptable *t, unsigned cap, int with_ids);
void ptable_free(struct ptable *t);
int ptable_full(const struct ptable *t);
/* A new entry, its seq set; NULL when full. */
struct pend *ptable_add(struct ptable *t, int64_t deadline);
struct pend *ptable_by_seq(struct ptable *t, uint64_t seq);
void ptable_set_id(struct ptable *t, struct pend *p, uint64_t id);
struct pend *ptable_by_id(struct ptable *t, uint64_t id);
void ptable_del(struct ptable *t, struct pend *p);
/* The oldest live entry whose deadline is <= now, or NULL. */
struct pend *ptable_expired(struct ptable *t, int64_t now);
/* The oldest live entry, or NULL (for failing everything). */
struct pend *ptable_oldest(struct ptable *t);
/* ms until the oldest entry's deadline (>= 0), or cap if none. */
int ptable_wait_ms(struct ptable *t, int64_t now, int cap);

int bridge_export(const struct bridge_opts *o);
int bridge_import(const struct bridge_opts *o);

#endif
