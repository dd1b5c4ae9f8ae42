/* SPDX-License-Identifier: MIT */
/* Fuzz target: the segment header (layout 2) as a client or shmq stat finds
 * it. The fuzzer's bytes are the whole mapping, magic and all. */
#include <errno.h>
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
	struct seg_header *h = p;
	/* Most inputs lack the magic: give half of them a valid one so the
	 * fuzzer spends its time on the fields behind it, and of those, some
	 * the right major version, known features and one region too (the
	 * first byte's low bits choose; the magic's own first byte, 'H', has
	 * bit 0 clear). */
	if (size >= 8 && (data[0] & 1)) {
		uint64_t m = SHMQ_MAGIC;
		memcpy(p, &m, sizeof(m));
		if (data[size - 1] & 1)
			h->layout_major = SHMQ_LAYOUT_MAJOR;
		if (data[size - 1] & 2)
			h->features_incompat &= SEG_FI_KNOWN;
		if (data[size - 1] & 4)
			h->region_count = 1 + h->region_count % SEG_MAX_REGIONS;
		if (data[size - 1] & 8)
			h->regions[0].type = REGION_SLOTS;
	}
	uint32_t major = 0, minor = 0;
	int vr = seg_version(p, map, &major, &minor);
	struct geometry g;
	int rc = seg_validate(p, map, &g);
	if (rc == 0) {
		/* What the caller then relies on. */
		const struct seg_region *r0 = &h->regions[0];
		if (vr != 0 || major != SHMQ_LAYOUT_MAJOR ||
		    (h->features_incompat & ~SEG_FI_KNOWN) || h->region_count == 0 ||
		    h->region_count > SEG_MAX_REGIONS || r0->type != REGION_SLOTS ||
		    r0->count != g.slots || r0->param != g.ring_size ||
		    r0->offset != g.slots_offset || r0->stride != g.slot_stride ||
		    r0->size != (uint64_t)g.slots * g.slot_stride)
			abort();
		if (g.total > map || g.slots == 0 || g.slots > SHMQ_MAX_SLOTS ||
		    g.ring_size < SHMQ_MIN_RING_SIZE || g.ring_size > SHMQ_MAX_RING_SIZE ||
		    (g.ring_size & (g.ring_size - 1)) != 0 ||
		    g.slots_offset != layout_slots_offset() ||
		    g.slot_stride != layout_slot_stride(g.ring_size) ||
		    g.slots_offset + (uint64_t)g.slots * g.slot_stride > map ||
		    g.slot_stride < sizeof(struct slot_ctl) + 2ull * g.ring_size)
			abort();
	} else if (vr == 0 && major != SHMQ_LAYOUT_MAJOR && rc != -EPROTONOSUPPORT) {
		abort(); /* another major: refused as such, so shmq stat can say which */
	}
	free(p);
	return 0;
}
