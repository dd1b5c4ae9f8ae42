/* SPDX-License-Identifier: MIT */
/* Fuzz target: the segment header as a client or shmq stat finds it. The
 * fuzzer's bytes are the whole mapping, magic and all. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* At least a header page, so short inputs still reach the checks;
	 * exactly `size` bytes otherwise, so ASan catches any read past it. */
	size_t map = size < SHMQ_PAGE ? SHMQ_PAGE : size;
	void *p = aligned_alloc(SHMQ_PAGE, (map + SHMQ_PAGE - 1) & ~(size_t)(SHMQ_PAGE - 1));
	if (!p)
		return 0;
	memset(p, 0, map);
	memcpy(p, data, size);
	/* Most inputs lack the magic: give half of them a valid one so the
	 * fuzzer spends its time on the fields behind it. */
	if (size >= 8 && (data[0] & 1)) {
		uint64_t m = SHMQ_MAGIC;
		memcpy(p, &m, sizeof(m));
	}
	struct geometry g;
	if (seg_validate(p, map, &g) == 0) {
		/* What the caller then relies on. */
		if (g.total > map || g.slots == 0 || g.slots > SHMQ_MAX_SLOTS ||
		    (g.ring_size & (g.ring_size - 1)) != 0 ||
		    g.slots_offset + (uint64_t)g.slots * g.slot_stride > map ||
		    g.slot_stride < sizeof(struct slot_ctl) + 2ull * g.ring_size)
			abort();
	}
	free(p);
	return 0;
}
