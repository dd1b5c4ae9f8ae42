/* SPDX-License-Identifier: MIT */
/* Writes the seed corpus (fuzz/corpus/<target>/) from the real structures,
 * so the seeds follow the layout: valid headers, rings with records and pads,
 * slot tables with connected clients. Regenerate with:
 *   gcc -std=gnu11 -Isrc -Iinclude fuzz/seeds.c src/ring.c -o /tmp/seeds && /tmp/seeds fuzz/corpus */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "ring.h"

static void put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

/* A ring of `size` bytes holding records of the given lengths, starting at
 * position start (so some seeds wrap). Returns the data area. */
static void fill_ring(unsigned char *area, struct ring_idx *idx, uint32_t size, uint64_t start,
		      const uint32_t *lens, int n)
{
	struct ring prod, cons;
	store_relaxed(&idx->prod, start);
	store_relaxed(&idx->cons, start);
	ring_init(&prod, idx, area, size, start);
	ring_init(&cons, idx, area, size, start);
	for (int i = 0; i < n; i++) {
		void *p;
		while (ring_reserve(&prod, lens[i], &p) == -EAGAIN) {
			struct ring_view v;
			if (ring_peek(&cons, &v) == 0)
				ring_release(&cons);
			ring_flush(&cons);
		}
		memset(p, 'a' + i, lens[i]);
		ring_commit(&prod, lens[i], i & 1);
	}
}

static void seg_header(unsigned char *buf, uint32_t slots, uint32_t ring)
{
	struct seg_header *h = (void *)buf;
	h->layout_major = SHMQ_LAYOUT_MAJOR;
	h->total_size = layout_total(slots, ring);
	h->slots_offset = layout_slots_offset();
	h->slot_stride = layout_slot_stride(ring);
	h->slot_count = slots;
	h->ring_size = ring;
	store_relaxed(&h->state, EP_READY);
	store_relaxed(&h->magic, SHMQ_MAGIC);
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "corpus";
	char dir[512];
	static unsigned char buf[1 << 16];
	static const uint32_t lens[] = { 0, 1, 7, 8, 9, 60, 100, 120 };

	/* header */
	snprintf(dir, sizeof(dir), "%s/header", root);
	memset(buf, 0, sizeof(buf));
	seg_header(buf, 1, 256);
	put(dir, "valid-1x256", buf, layout_total(1, 256));
	memset(buf, 0, sizeof(buf));
	seg_header(buf, 2, 4096);
	put(dir, "valid-2x4096", buf, layout_total(2, 4096));

	/* ring: [size selector][start u64][start-is-zero flag][data] */
	snprintf(dir, sizeof(dir), "%s/ring", root);
	for (int k = 0; k < 3; k++) {
		struct ring_idx idx;
		uint64_t start = k == 0 ? 0 : k == 1 ? 200 : (1ull << 32) - 40;
		unsigned char *area = buf + 10;
		memset(buf, 0, 10 + 256);
		fill_ring(area, &idx, 256, start, lens, 8);
		buf[0] = 0;
		memcpy(buf + 1, &start, 8);
		buf[9] = 0;
		char name[32];
		snprintf(name, sizeof(name), "records-%d", k);
		put(dir, name, buf, 10 + 256);
	}

	/* server: the slot area, slot 0 connected with requests queued */
	snprintf(dir, sizeof(dir), "%s/server", root);
	memset(buf, 0, sizeof(buf));
	struct slot_ctl *c = (void *)buf;
	store_relaxed(&c->state, SLOT_CONNECTED);
	fill_ring(buf + sizeof(*c), &c->req, 256, 0, lens, 6);
	put(dir, "slot0-requests", buf, layout_slot_stride(256));
	store_relaxed(&c->state, SLOT_LEAVING);
	put(dir, "slot0-leaving", buf, layout_slot_stride(256));

	/* client: header fields from `state` on, then the client's slot with
	 * replies queued */
	snprintf(dir, sizeof(dir), "%s/client", root);
	memset(buf, 0, sizeof(buf));
	size_t hdr_part = layout_slots_offset() - offsetof(struct seg_header, state);
	unsigned char *h = buf;
	uint32_t ready = EP_READY;
	memcpy(h, &ready, sizeof(ready));
	c = (void *)(buf + hdr_part);
	store_relaxed(&c->state, SLOT_CONNECTED);
	fill_ring(buf + hdr_part + sizeof(*c) + 256, &c->rep, 256, 0, lens, 6);
	buf[0] &= ~1u; /* first byte even: spare the header's magic */
	put(dir, "replies", buf, hdr_part + layout_slot_stride(256));

	/* args: [parser selector][string] */
	snprintf(dir, sizeof(dir), "%s/args", root);
	static const char *args[] = { "\x00" "64", "\x01" "64k", "\x02" "0x4d2", "\x03" "0660",
				      "\x04" "forever", "\x01" "1M", "\x02" "-5" };
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "arg-%zu", i);
		put(dir, name, args[i], 1 + strlen(args[i] + 1));
	}
	return 0;
}
