/* SPDX-License-Identifier: MIT */
/* Pieces shared by the server, the client and the inspector. */
#ifndef SHMQ_INTERNAL_H
#define SHMQ_INTERNAL_H

#include "layout.h"
#include "segment.h"

static inline struct slot_ctl *slot_ctl(void *base, const struct geometry *g, uint32_t i)
{
	return (struct slot_ctl *)((unsigned char *)base + g->slots_offset +
				   (uint64_t)i * g->slot_stride);
}

static inline void *slot_req_data(struct slot_ctl *c)
{
	return (unsigned char *)c + sizeof(struct slot_ctl);
}

static inline void *slot_rep_data(struct slot_ctl *c, const struct geometry *g)
{
	return (unsigned char *)c + sizeof(struct slot_ctl) + g->ring_size;
}

/* Lock byte of slot i in the lock file; byte 0 is the server's. */
static inline off_t slot_lock_byte(uint32_t i)
{
	return (off_t)i + 1;
}

/* The gate of slot i: held by the server from the moment it serves the slot
 * until it has reset it. A claimer skips a slot whose gate is held, so a
 * client that writes SLOT_FREE into its own slot and leaves cannot hand the
 * slot (and memory the server may still be reading) to the next client. */
static inline off_t slot_gate_byte(uint32_t i)
{
	return (off_t)SHMQ_MAX_SLOTS + 1 + i;
}

#endif
