/* SPDX-License-Identifier: MIT */
/*
 * A single-producer single-consumer ring of variable-length records.
 *
 * Shared state is two free-running 64-bit byte counters (struct ring_idx) and
 * a power-of-two data area. A record is an 8-byte header {word, seal} and the
 * payload padded to 8 bytes. A record never wraps: when it would not fit
 * before the end, the producer writes a PAD record that fills the tail and
 * starts the record at offset 0, so every payload is contiguous.
 *
 * The consumer does not read the producer's index: it polls the seal of the
 * header at its own position, so a message costs it one cache line, the one
 * the record is in. A seal is rec_seal(position), stored with release after
 * the rest of the record. To make sure the consumer can never take stale
 * bytes at its position for a record, the producer keeps the position after
 * its last record "terminated": before it publishes a record it writes there
 * a seal that cannot match (~rec_seal). It always has room to: a record is
 * admitted only if 8 more bytes are free behind it. So the bytes at the
 * consumer's position are either a record published for that very position,
 * or a terminator, or (right after a reset) what ring_format wrote.
 *
 * The producer publishes its index anyway (for shmq stat) and reads the
 * consumer's index, batched by the consumer (ring_release / ring_flush), to
 * know what space is free; that index is validated before use.
 *
 * Each side keeps its own index and the ring geometry in struct ring, in
 * private memory. The largest payload is size/2 - 24, which guarantees that
 * an empty ring always has room for it, its id and its terminator, wherever
 * the counters stand.
 *
 * This module knows nothing of processes, futexes or segments, so it can be
 * unit-tested (and fuzzed) over ordinary memory.
 */
#ifndef SHMQ_RING_H
#define SHMQ_RING_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct ring {
	struct ring_idx *idx;
	unsigned char *data;
	uint32_t size; /* power of two */
	uint32_t mask;
	uint32_t max_payload;
	uint64_t pos;  /* ours: prod for a producer, cons for a consumer */
	uint64_t peer; /* producer: the consumer's index as last read and validated */
	/* producer: the reservation in progress */
	uint32_t resv_skip; /* bytes of PAD before the record, 0 if none */
	uint32_t resv_off;  /* record offset in data */
	uint32_t resv_cap;  /* payload bytes reserved; 0 with resv_open == 0 */
	uint32_t resv_type; /* REC_REQUEST, REC_REPLY or 0 */
	uint32_t resv_open;
	/* consumer: size of the record handed out by ring_peek, 0 if none */
	uint32_t taken;
	/* consumer: the cons index last made visible to the producer */
	uint64_t published;
};

struct ring_view {
	const void *data;
	uint32_t len;
	uint32_t type; /* REC_REQUEST, REC_REPLY or 0 */
	uint64_t id;   /* with REC_REQUEST and REC_REPLY, else 0 */
};

static inline uint32_t ring_max_payload(uint32_t size)
{
	return size / 2 - 2 * REC_HDR_SIZE - REC_ID_SIZE;
}

/* Make a ring's data area ready for a stream that starts at `start`: no
 * bytes left from an earlier stream may pass for its first record. */
void ring_format(void *data, uint32_t size, uint64_t start);

/* Attach one side to a ring whose counters both stand at `start`, a
 * multiple of 8 (the library always starts at 0). */
void ring_init(struct ring *r, struct ring_idx *idx, void *data, uint32_t size,
	       uint64_t start);

/* Producer. reserve a record of type (REC_REQUEST, REC_REPLY or 0) for up
 * to len payload bytes: 0, -EMSGSIZE, -EAGAIN (no room), -EPROTO (bad
 * peer). commit publishes len <= the reserved bytes, with id if the type
 * carries one. */
int ring_reserve(struct ring *r, uint32_t len, uint32_t type, void **payload);
void ring_commit(struct ring *r, uint32_t len, uint64_t id);
void ring_abort(struct ring *r);
/* Bytes the producer believes are queued (from its cached peer index). */
uint64_t ring_used(const struct ring *r);
/* Producer: has the consumer handed back everything we committed? Reads
 * and validates the consumer's index: 1 yes, 0 not yet, -EPROTO. */
int ring_drained(struct ring *r);

/* Consumer. peek: 0, -EAGAIN (empty), -EPROTO (bad peer). The record stays
 * in the ring until ring_release. Which types a direction allows is the
 * caller's to check.
 *
 * The consumer hands space back to the producer in batches: ring_release
 * publishes cons once a quarter of the ring has been consumed or the ring has
 * run empty, and ring_flush publishes the rest. A consumer must call ring_flush before it
 * waits for anything (for data on this ring, or for room on another one), so
 * a producer waiting for space always gets it. Both return 1 when they published: the caller then
 * wakes the producer if it sleeps. */
int ring_peek(struct ring *r, struct ring_view *v);
int ring_release(struct ring *r);
int ring_flush(struct ring *r);

#endif
