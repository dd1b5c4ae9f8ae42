/* SPDX-License-Identifier: MIT */
/* Fuzz target: the ring consumer facing a hostile producer. The fuzzer's
 * bytes are the producer's index, the ring's data area, and a script of
 * later index moves. */
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
	size_t n = size < ring ? size : ring;
	memcpy(area, data, n);
	data += n;
	size -= n;

	store_relaxed(&idx->cons, start);
	store_relaxed(&idx->prod, start + ring); /* claims a full ring */
	struct ring r;
	ring_init(&r, idx, area, ring, start);

	/* Consume until the ring is empty or broken; the rest of the input
	 * moves the producer's index around (backwards, far ahead, ...). */
	for (int step = 0; step < 4096; step++) {
		struct ring_view v;
		int rc = ring_peek(&r, &v);
		if (rc == 0) {
			const unsigned char *b = v.data;
			if (b < area || b + v.len > area + ring || v.len > r.max_payload)
				abort();
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
		uint64_t move;
		memcpy(&move, data, sizeof(move));
		data += 8;
		size -= 8;
		store_relaxed(&idx->prod, r.pos + (move & 0x8000 ? move : move % (2ull * ring)));
	}
	free(area);
	free(idx);
	return 0;
}
