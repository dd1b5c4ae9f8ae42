/* SPDX-License-Identifier: MIT */
#include "ring.h"

#include <errno.h>

#include "atomics.h"

/* Record headers live in shared memory: read and write each word exactly
 * once with an atomic access, so the compiler can never re-fetch a value
 * after it has been validated. */
static inline uint32_t *hdr_word(unsigned char *h)
{
	return &((struct rec_hdr *)(void *)h)->word;
}

static inline uint32_t *hdr_seal(unsigned char *h)
{
	return &((struct rec_hdr *)(void *)h)->seal;
}

static inline uint32_t *rec_id_lo(unsigned char *h)
{
	return (uint32_t *)(void *)(h + REC_HDR_SIZE);
}

static inline uint32_t rec_hdr_size(uint32_t type)
{
	return REC_HDR_SIZE + (rec_has_id(type) ? REC_ID_SIZE : 0);
}

static inline uint32_t rec_total(uint32_t len, uint32_t type)
{
	return rec_hdr_size(type) + (uint32_t)align_up(len, REC_ALIGN);
}

/* Write a seal that no record at pos can have. */
static inline void terminate(unsigned char *data, uint32_t mask, uint64_t pos)
{
	__atomic_store_n(hdr_seal(data + (pos & mask)), ~rec_seal(pos), __ATOMIC_RELAXED);
}

void ring_format(void *data, uint32_t size, uint64_t start)
{
	terminate(data, size - 1, start);
}

void ring_init(struct ring *r, struct ring_idx *idx, void *data, uint32_t size,
	       uint64_t start)
{
	*r = (struct ring){
		.idx = idx,
		.data = data,
		.size = size,
		.mask = size - 1,
		.max_payload = ring_max_payload(size),
		.pos = start,
		.peer = start,
		.published = start,
	};
}

/* ---- producer ----------------------------------------------------------- */

int ring_reserve(struct ring *r, uint32_t len, uint32_t type, void **payload)
{
	if (len > r->max_payload)
		return -EMSGSIZE;

	uint32_t total = rec_total(len, type);
	uint32_t off = (uint32_t)(r->pos & r->mask);
	uint32_t tail = r->size - off;
	uint32_t skip = total <= tail ? 0 : tail;
	/* Room for the record, the pad before it, and the terminator after. */
	uint64_t need = (uint64_t)skip + total + REC_HDR_SIZE;

	if (r->size - (r->pos - r->peer) < need) {
		/* Pairs with the consumer's store_release of cons in
		 * ring_flush: the bytes it gave back are no longer read. */
		uint64_t cons = load_acquire(&r->idx->cons);
		/* cons may only move forward, and never past what we produced. */
		if (cons - r->peer > r->pos - r->peer)
			return -EPROTO;
		r->peer = cons;
		if (r->size - (r->pos - cons) < need)
			return -EAGAIN;
	}

	r->resv_skip = skip;
	r->resv_off = skip ? 0 : off;
	r->resv_cap = len;
	r->resv_type = type;
	r->resv_open = 1;
	*payload = r->data + r->resv_off + rec_hdr_size(type);
	return 0;
}

void ring_commit(struct ring *r, uint32_t len, uint64_t id)
{
	if (len > r->resv_cap)
		len = r->resv_cap; /* callers check; never write past the reservation */
	uint32_t type = r->resv_type;
	uint64_t pad_pos = r->pos;
	uint64_t rec_pos = pad_pos + r->resv_skip;
	uint64_t end = rec_pos + rec_total(len, type);
	unsigned char *rec = r->data + r->resv_off;
	unsigned char *pad = r->data + (pad_pos & r->mask);

	__atomic_store_n(hdr_word(rec), len | type, __ATOMIC_RELAXED);
	if (rec_has_id(type)) {
		/* Two 32-bit halves: the id's slot is 8-aligned, but a 64-bit
		 * atomic access to it would not be on every target. */
		__atomic_store_n(rec_id_lo(rec), (uint32_t)id, __ATOMIC_RELAXED);
		__atomic_store_n(rec_id_lo(rec) + 1, (uint32_t)(id >> 32), __ATOMIC_RELAXED);
	}
	if (r->resv_skip)
		__atomic_store_n(hdr_word(pad), (r->resv_skip - REC_HDR_SIZE) | REC_PAD,
				 __ATOMIC_RELAXED);
	/* The consumer will stop at `end` next: make sure it finds no stale
	 * seal there (reserve kept those 8 bytes free). */
	terminate(r->data, r->mask, end);
	/* Pairs with the consumer's acquire load of the seal in ring_peek:
	 * payload, word and the terminator are visible before the seal. */
	__atomic_store_n(hdr_seal(rec), rec_seal(rec_pos), __ATOMIC_RELEASE);
	if (r->resv_skip)
		__atomic_store_n(hdr_seal(pad), rec_seal(pad_pos), __ATOMIC_RELEASE);

	r->pos = end;
	r->resv_open = 0;
	r->resv_cap = 0;
	r->resv_type = 0;
	/* For observers (shmq stat); the consumer does not need it. */
	store_release(&r->idx->prod, end);
}

void ring_abort(struct ring *r)
{
	r->resv_open = 0;
	r->resv_cap = 0;
}

uint64_t ring_used(const struct ring *r)
{
	return r->pos - r->peer;
}

int ring_drained(struct ring *r)
{
	/* Pairs with the consumer's store_release of cons in ring_flush. */
	uint64_t cons = load_acquire(&r->idx->cons);
	if (cons - r->peer > r->pos - r->peer)
		return -EPROTO;
	r->peer = cons;
	return cons == r->pos;
}

/* ---- consumer ----------------------------------------------------------- */

int ring_peek(struct ring *r, struct ring_view *v)
{
	/* An honest producer puts at most one pad before a record; a hostile
	 * one rewriting pads under us must not keep us here. */
	for (int pads = 0; pads < 2; pads++) {
		uint32_t off = (uint32_t)(r->pos & r->mask);
		unsigned char *h = r->data + off;
		/* Pairs with the producer's release store of the seal in
		 * ring_commit: a matching seal means the record is complete. */
		uint32_t seal = __atomic_load_n(hdr_seal(h), __ATOMIC_ACQUIRE);
		if (seal != rec_seal(r->pos))
			return -EAGAIN;
		uint32_t word = __atomic_load_n(hdr_word(h), __ATOMIC_RELAXED);
		uint32_t len = word & REC_LEN_MASK;
		uint32_t type = word & REC_TYPE_MASK;

		if (type == REC_PAD) {
			/* A pad always runs to the end of the data area. */
			uint32_t skip = r->size - off;
			if (len != skip - REC_HDR_SIZE)
				return -EPROTO;
			r->pos += skip;
			continue;
		}
		uint32_t hsize = REC_HDR_SIZE;
		uint64_t id = 0;
		if (type) {
			if (type != REC_REQUEST && type != REC_REPLY)
				return -EPROTO;
			hsize += REC_ID_SIZE;
		}
		uint32_t total = hsize + (uint32_t)align_up(len, REC_ALIGN);
		if (len > r->max_payload || total > r->size - off)
			return -EPROTO;
		if (type)
			id = __atomic_load_n(rec_id_lo(h), __ATOMIC_RELAXED) |
			     (uint64_t)__atomic_load_n(rec_id_lo(h) + 1, __ATOMIC_RELAXED) << 32;
		v->data = h + hsize;
		v->len = len;
		v->type = type;
		v->id = id;
		r->taken = total;
		return 0;
	}
	return -EPROTO;
}

int ring_flush(struct ring *r)
{
	if (r->pos == r->published)
		return 0;
	r->published = r->pos;
	/* Pairs with the producer's load_acquire of cons in ring_reserve: we
	 * are done reading these bytes, the producer may overwrite them. */
	store_release(&r->idx->cons, r->pos);
	return 1;
}

int ring_release(struct ring *r)
{
	r->pos += r->taken;
	r->taken = 0;
	/* Batch while more records wait; once the ring runs empty, give it all
	 * back, so a producer never waits on space we have already read, even
	 * if we go off to do something else now. A relaxed look at the next
	 * seal is enough: a stale answer only costs or saves one flush. */
	if (r->pos - r->published < r->size / 4 &&
	    __atomic_load_n(hdr_seal(r->data + (r->pos & r->mask)), __ATOMIC_RELAXED) ==
		    rec_seal(r->pos))
		return 0;
	return ring_flush(r);
}
