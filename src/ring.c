/* SPDX-License-Identifier: MIT */
#include "ring.h"

#include <errno.h>

#include "atomics.h"

/* Record headers live in shared memory: read and write each word exactly
 * once with a relaxed atomic, so the compiler can never re-fetch a value
 * after it has been validated. Ordering comes from the index accesses. */
static inline uint32_t hdr_load(const unsigned char *p)
{
	return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
}

static inline void hdr_store(unsigned char *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

static inline uint32_t rec_total(uint32_t len)
{
	return REC_HDR_SIZE + (uint32_t)align_up(len, REC_ALIGN);
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

int ring_reserve(struct ring *r, uint32_t len, void **payload)
{
	if (len > r->max_payload)
		return -EMSGSIZE;

	uint32_t total = rec_total(len);
	uint32_t off = (uint32_t)(r->pos & r->mask);
	uint32_t tail = r->size - off;
	uint32_t skip = total <= tail ? 0 : tail;
	uint64_t need = (uint64_t)skip + total;

	if (r->size - (r->pos - r->peer) < need) {
		/* Pairs with the consumer's store_release of cons in
		 * ring_release: the bytes it gave back are no longer read. */
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
	r->resv_open = 1;
	*payload = r->data + r->resv_off + REC_HDR_SIZE;
	return 0;
}

void ring_commit(struct ring *r, uint32_t len, uint32_t flags)
{
	if (len > r->resv_cap)
		len = r->resv_cap; /* callers check; never write past the reservation */
	if (r->resv_skip) {
		unsigned char *pad = r->data + (r->pos & r->mask);
		hdr_store(pad, r->resv_skip - REC_HDR_SIZE);
		hdr_store(pad + 4, REC_TAG | REC_PAD);
	}
	unsigned char *h = r->data + r->resv_off;
	hdr_store(h, len);
	hdr_store(h + 4, REC_TAG | REC_DATA | (flags << REC_FLAGS_SHIFT));
	r->pos += r->resv_skip + rec_total(len);
	r->resv_open = 0;
	r->resv_cap = 0;
	/* Pairs with the consumer's load_acquire of prod in ring_peek: the
	 * record's header and payload are visible before the new index. */
	store_release(&r->idx->prod, r->pos);
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

int ring_peek(struct ring *r, struct ring_view *v)
{
	for (;;) {
		uint64_t avail = r->peer - r->pos;
		if (avail == 0) {
			/* Pairs with the producer's store_release of prod in
			 * ring_commit: the records below it are complete. */
			uint64_t prod = load_acquire(&r->idx->prod);
			avail = prod - r->pos;
			if (avail > r->size)
				return -EPROTO; /* moved backwards or overfilled */
			if (avail == 0)
				return -EAGAIN;
			r->peer = prod;
		}
		if (avail < REC_HDR_SIZE)
			return -EPROTO;

		uint32_t off = (uint32_t)(r->pos & r->mask);
		const unsigned char *h = r->data + off;
		uint32_t len = hdr_load(h);
		uint32_t type = hdr_load(h + 4);
		if ((type & REC_TAG_MASK) != REC_TAG)
			return -EPROTO;

		uint32_t kind = type & REC_KIND_MASK;
		uint32_t flags = (type & ~REC_TAG_MASK) >> REC_FLAGS_SHIFT;
		if (kind == REC_PAD) {
			/* A pad always runs to the end of the data area. */
			uint32_t skip = r->size - off;
			if (flags || len != skip - REC_HDR_SIZE || avail < skip)
				return -EPROTO;
			r->pos += skip;
			continue;
		}
		if (kind != REC_DATA || (flags & ~REC_FLAGS_KNOWN) ||
		    len > r->max_payload)
			return -EPROTO;
		uint32_t total = rec_total(len);
		if (total > r->size - off || total > avail)
			return -EPROTO;

		v->data = h + REC_HDR_SIZE;
		v->len = len;
		v->flags = flags;
		r->taken = total;
		return 0;
	}
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
	if (r->pos - r->published < r->size / 4)
		return 0;
	return ring_flush(r);
}
