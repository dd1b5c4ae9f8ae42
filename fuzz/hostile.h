/* SPDX-License-Identifier: MIT */
/* For fuzz targets that play a hostile peer against the real library: map a
 * POSIX endpoint's file directly and write into it, and check that what the
 * library hands out stays where it must. Layout 2 (src/layout.h). */
#ifndef SHMQ_FUZZ_HOSTILE_H
#define SHMQ_FUZZ_HOSTILE_H

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layout.h"
#include "shmq.h"

#define FUZZ_RING  256u
#define FUZZ_SLOTS 2u

static inline const char *fuzz_name(void)
{
	static char name[64];
	if (!name[0])
		snprintf(name, sizeof(name), "shmq-fuzz-%d", (int)getpid());
	return name;
}

static inline shmq_config fuzz_config(void)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.name = fuzz_name();
	cfg.slots = FUZZ_SLOTS;
	cfg.ring_size = FUZZ_RING;
	cfg.spin_us = 0;
	return cfg;
}

/* Map the endpoint as a hostile peer would. */
static inline unsigned char *fuzz_map(size_t *len)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/%s", fuzz_name());
	int fd = open(path, O_RDWR);
	if (fd < 0)
		abort();
	*len = layout_total(FUZZ_SLOTS, FUZZ_RING);
	void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		abort();
	return p;
}

/* Geometry of the fuzz endpoint, as the layout defines it (the header's
 * copy is what the fuzzer scribbles on). */
#define FUZZ_STRIDE    layout_slot_stride(FUZZ_RING)
#define FUZZ_SLOTS_OFF layout_slots_offset()
#define FUZZ_AREA      ((size_t)FUZZ_SLOTS * FUZZ_STRIDE) /* all the slots */

static inline struct slot_ctl *fuzz_slot(unsigned char *seg, uint32_t i)
{
	return (struct slot_ctl *)(void *)(seg + FUZZ_SLOTS_OFF +
					   (size_t)(i % FUZZ_SLOTS) * FUZZ_STRIDE);
}

/* A slot's request (which 0) or reply (which 1) ring data. */
static inline unsigned char *fuzz_ring_data(unsigned char *seg, uint32_t i, int which)
{
	return (unsigned char *)fuzz_slot(seg, i) + sizeof(struct slot_ctl) +
	       (which ? FUZZ_RING : 0);
}

/* A record header {word, seal} at stream position pos of a ring, sealed for
 * that position: what a producer publishes there. */
static inline void fuzz_rec_put(unsigned char *data, uint64_t pos, uint32_t word)
{
	unsigned char *h = data + (pos & (FUZZ_RING - 1));
	__atomic_store_n((uint32_t *)(void *)h, word, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(void *)(h + 4), rec_seal(pos), __ATOMIC_RELEASE);
}

/* The id of a request or reply record at pos (two halves, low first). */
static inline void fuzz_rec_id(unsigned char *data, uint64_t pos, uint64_t id)
{
	unsigned char *h = data + ((pos + REC_HDR_SIZE) & (FUZZ_RING - 1));
	__atomic_store_n((uint32_t *)(void *)h, (uint32_t)id, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(void *)(h + 4), (uint32_t)(id >> 32), __ATOMIC_RELAXED);
}

/* Wake the server as a client does, whatever its flags say. */
static inline void fuzz_srv_bell(unsigned char *seg)
{
	struct seg_header *h = (struct seg_header *)(void *)seg;
	atomic_fetch_add_explicit(&h->srv_seq, 1, memory_order_release);
	syscall(SYS_futex, (uint32_t *)&h->srv_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Read every byte of a view the library handed out (ASan checks bounds). */
static inline void touch(const void *data, size_t len)
{
	const volatile unsigned char *b = data;
	unsigned char x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= b[i];
	(void)x;
}

/* The mappings of the endpoint's file in this process: the library's (the
 * server's, the client's) and ours. A view into shared memory lies in one of
 * them; outside them it is a private copy, which ASan guards. */
struct fuzz_maps {
	uintptr_t start[8], end[8];
	int n;
};

static inline void fuzz_maps_read(struct fuzz_maps *m)
{
	char path[128], line[512];
	snprintf(path, sizeof(path), "/dev/shm/%s", fuzz_name());
	m->n = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		abort();
	while (m->n < 8 && fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);
		while (l && (line[l - 1] == '\n' || line[l - 1] == ' '))
			line[--l] = 0;
		size_t pl = strlen(path);
		if (l < pl || strcmp(line + l - pl, path) != 0)
			continue;
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx", &s, &e) == 2) {
			m->start[m->n] = s;
			m->end[m->n] = e;
			m->n++;
		}
	}
	fclose(f);
}

/* A view of len bytes at p, handed out for slot's ring `which`: if it points
 * into a mapping of the segment, it must lie inside that ring's data area
 * there. Aborts (a fuzzer crash) if not. */
static inline void fuzz_check_view(const struct fuzz_maps *m, const void *p, size_t len,
				   uint32_t slot, int which)
{
	uintptr_t a = (uintptr_t)p;
	if (len > FUZZ_RING)
		abort();
	for (int i = 0; i < m->n; i++) {
		if (a < m->start[i] || a >= m->end[i])
			continue;
		uintptr_t ring =
		    (uintptr_t)fuzz_ring_data((unsigned char *)m->start[i], slot, which);
		if (slot >= FUZZ_SLOTS || a < ring || a + len > ring + FUZZ_RING)
			abort();
		return;
	}
}

/* Pull little-endian fields off the fuzzer's input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint32_t fuzz_take(struct fuzz_in *in, size_t bytes)
{
	uint32_t v = 0;
	for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint32_t)in->p[0] << (8 * i);
	return v;
}

#endif
