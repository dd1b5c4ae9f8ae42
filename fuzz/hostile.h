/* SPDX-License-Identifier: MIT */
/* For fuzz targets that play a hostile peer against the real library: map a
 * POSIX endpoint's file directly and write into it. */
#ifndef SHMQ_FUZZ_HOSTILE_H
#define SHMQ_FUZZ_HOSTILE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "shmq.h"

#define FUZZ_RING 256u
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

/* Read every byte of a view the library handed out (ASan checks bounds). */
static inline void touch(const void *data, size_t len)
{
	const volatile unsigned char *b = data;
	unsigned char x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= b[i];
	(void)x;
}

#endif
