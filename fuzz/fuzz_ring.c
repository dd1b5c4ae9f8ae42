/* SPDX-License-Identifier: MIT */
/* Fuzz target: the ring consumer facing a hostile producer. The fuzzer's
 * bytes are the ring's data area and then a script of writes the producer
 * makes between the consumer's steps: a seal made valid for the consumer's
 * position, a header word, or any 32-bit word anywhere in the ring.
 * Whatever the consumer hands out must be a record of a legal type (one-way,
 * REC_REQUEST or REC_REPLY) whose header, id and payload all lie inside the
 * data area, with the id that is stored there (0 for a one-way record). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 10)
		return 0;
	uint32_t ring = 256u << (data[0] % 5); /* 256 .. 4096 */
	uint64_t start;
	memcpy(&start, data + 1, sizeof(start));
	start &= ~(uint64_t)(REC_ALIGN - 1); /* as every real ring starts */
	if (data[9] & 1)
		start = 0;
	data += 10;
	size -= 10;

	struct ring_idx *idx = aligned_alloc(64, sizeof(*idx));
	unsigned char *area = malloc(ring); /* exactly ring bytes: ASan guards it */
	if (!idx || !area)
		abort();
	memset(area, 0, ring);
	ring_format(area, ring, start);
	size_t n = size < ring ? size : ring;
	memcpy(area, data, n);
	data += n;
	size -= n;

	store_relaxed(&idx->cons, start);
	store_relaxed(&idx->prod, start);
	struct ring r;
	ring_init(&r, idx, area, ring, start);

	for (int step = 0; step < 4096; step++) {
		struct ring_view v;
		int rc = ring_peek(&r, &v);
		if (rc == 0) {
			const unsigned char *b = v.data;
			int has_id = v.type == REC_REQUEST || v.type == REC_REPLY;
			if (!has_id && v.type != 0)
				abort();
			/* The record: header, id for a request or reply, payload. */
			const unsigned char *h = b - REC_HDR_SIZE - (has_id ? REC_ID_SIZE : 0);
			if (b < area || h < area || b + v.len > area + ring ||
			    v.len > r.max_payload || ((uintptr_t)b & 7) != 0)
				abort();
			uint32_t word, lo, hi;
			memcpy(&word, h, 4);
			if ((word & REC_TYPE_MASK) != v.type || (word & REC_LEN_MASK) != v.len)
				abort();
			if (has_id) {
				memcpy(&lo, h + 8, 4);
				memcpy(&hi, h + 12, 4);
				if (v.id != ((uint64_t)hi << 32 | lo))
					abort();
			} else if (v.id != 0) {
				abort();
			}
			volatile unsigned char sink = 0;
			for (uint32_t i = 0; i < v.len; i++)
				sink ^= b[i]; /* touch every byte handed out */
			(void)sink;
			ring_release(&r);
			continue;
		}
		if (rc == -EPROTO)
			break;
		ring_flush(&r);
		if (size < 8)
			break;
		uint32_t val, at = (uint32_t)(r.pos & r.mask);
		uint16_t off;
		memcpy(&off, data + 2, sizeof(off));
		memcpy(&val, data + 4, sizeof(val));
		switch (data[0] % 3) {
		case 0: /* a seal that matches where the consumer stands */
			val = rec_seal(r.pos);
			memcpy(area + at + 4, &val, 4);
			break;
		case 1: /* the header word there */
			memcpy(area + at, &val, 4);
			break;
		default: /* any aligned word */
			memcpy(area + ((off * 4u) & r.mask), &val, 4);
			break;
		}
		data += 8;
		size -= 8;
	}
	free(area);
	free(idx);
	return 0;
}
