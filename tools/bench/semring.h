/* SPDX-License-Identifier: MIT */
/*
 * A bounded buffer of fixed-size slots in shared memory, one per direction,
 * guarded by two counting semaphores per direction (items and free slots):
 * the textbook producer/consumer that the tutorial's "shared memory plus
 * semaphores" step leads to. The semaphore flavour (System V, POSIX,
 * eventfd) is pluggable; each side keeps its own slot positions privately.
 */
#ifndef SHMQ_BENCH_SEMRING_H
#define SHMQ_BENCH_SEMRING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { SR_C2S = 0, SR_S2C = 1 };
#define SR_ITEMS(dir) (2u * (dir))
#define SR_SPACES(dir) (2u * (dir) + 1u)

struct sem_ops {
	int (*wait)(void *ctx, unsigned sem); /* 0 or -errno */
	int (*post)(void *ctx, unsigned sem);
};

struct semring {
	unsigned char *mem; /* 2 directions x nslots x stride, shared */
	size_t size;        /* message size */
	size_t stride;
	uint32_t nslots;
	const struct sem_ops *ops;
	void *ctx;
};

/* Geometry for a message size: bytes of shared memory needed. */
size_t semring_geometry(size_t size, uint32_t *nslots, size_t *stride);

struct semring_end {
	const struct semring *r;
	unsigned out, in; /* directions */
	uint64_t wpos, rpos;
};

void semring_end_init(struct semring_end *e, const struct semring *r, int server);
int semring_send(struct semring_end *e, const void *buf, size_t len);
ssize_t semring_recv(struct semring_end *e, void *buf, size_t cap);

#endif
