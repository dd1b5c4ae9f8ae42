/* SPDX-License-Identifier: MIT */
/*
 * Raw access to an endpoint's segment, as any process with the permission
 * can: for the tests that play a hostile peer (test_hostile, test_isolation).
 * Include after harness.h and internal.h.
 */
#ifndef SHMQ_TEST_RAW_H
#define SHMQ_TEST_RAW_H

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

struct raw {
	unsigned char *base;
	size_t size;
	int posix;
	struct geometry g;
};

static void raw_map(struct raw *r, const shmq_config *cfg)
{
	*r = (struct raw){.posix = cfg->name != NULL};
	if (cfg->name) {
		char path[300];
		snprintf(path, sizeof(path), "/dev/shm/%s", cfg->name);
		/* Another open file description: no OFD lock of ours rides on it. */
		int fd = open(path, O_RDWR | O_CLOEXEC);
		CHECK(fd >= 0);
		struct stat st;
		CHECK(fstat(fd, &st) == 0);
		r->size = (size_t)st.st_size;
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(p != MAP_FAILED);
		close(fd);
		r->base = p;
	} else {
		int id = shmget(cfg->key, 0, 0);
		CHECK(id >= 0);
		struct shmid_ds ds;
		CHECK(shmctl(id, IPC_STAT, &ds) == 0);
		void *p = shmat(id, NULL, 0);
		CHECK(p != (void *)-1);
		r->size = ds.shm_segsz;
		r->base = p;
	}
	/* Our own geometry, from the config; the header must agree. */
	r->g = (struct geometry){
	    .slots = cfg->slots,
	    .ring_size = (uint32_t)cfg->ring_size,
	    .slots_offset = layout_slots_offset(),
	    .slot_stride = layout_slot_stride((uint32_t)cfg->ring_size),
	    .total = layout_total(cfg->slots, (uint32_t)cfg->ring_size),
	};
	struct geometry hg;
	CHECK_EQ(seg_validate(r->base, r->size, &hg), 0);
	CHECK(hg.slots == r->g.slots && hg.ring_size == r->g.ring_size && hg.total <= r->size);
}

static void raw_unmap(struct raw *r)
{
	if (!r->base)
		return;
	if (r->posix)
		munmap(r->base, r->size);
	else
		shmdt(r->base);
	r->base = NULL;
}

#endif
