/* SPDX-License-Identifier: MIT */
/*
 * The bytes of a shmq segment. Both backends (System V and POSIX) share this
 * layout; see man 7 shmq for the protocol.
 *
 *   offset 0          struct seg_header, alone on its page
 *   slots_offset      slot 0: struct slot_ctl, then req ring data, rep ring data
 *   + slot_stride     slot 1 ...
 *
 * Every field a peer can write is untrusted: each side keeps its own copy of
 * geometry and indices in private memory and validates what it reads.
 */
#ifndef SHMQ_LAYOUT_H
#define SHMQ_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHMQ_CACHELINE 64
#define SHMQ_PAGE 4096
#define SHMQ_MAGIC 0x3130474553514d48ull /* "HMQSEG01" little-endian */
#define SHMQ_LAYOUT_MAJOR 1u
#define SHMQ_LAYOUT_MINOR 0u

#define CACHE_ALIGNED _Alignas(SHMQ_CACHELINE)

/* Endpoint state, seg_header.state. */
enum { EP_INIT = 0, EP_READY = 1, EP_CLOSED = 2 };

/* Slot state, slot_ctl.state. FREE and BANNED are set only by the server; a
 * client moves FREE -> CLAIMED (CAS) -> CONNECTED -> LEAVING. BANNED: the
 * server disconnected the client for breaking the protocol. */
enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_CONNECTED = 2, SLOT_LEAVING = 3, SLOT_BANNED = 4 };

/* A futex-backed event count. The sleeper sets `waiting`, issues a full
 * barrier, re-checks its condition, then sleeps while `seq` is unchanged.
 * The waker publishes, issues a full barrier, and only if `waiting` is set
 * bumps `seq` and calls FUTEX_WAKE. */
struct event {
	_Atomic uint32_t seq;
	_Atomic uint32_t waiting;
	/* Set once by the owner when it busy-polls (spin_us SHMQ_SPIN_FOREVER)
	 * and so never sleeps: wakers then skip the barrier and the check. A
	 * peer that lies about it only delays its own wake-ups. */
	_Atomic uint32_t never_sleeps;
};

/* One ring's shared indices: free-running byte counters, each on its own
 * cache line so producer and consumer never write the same line. */
struct ring_idx {
	CACHE_ALIGNED _Atomic uint64_t prod; /* written by the producer only */
	CACHE_ALIGNED _Atomic uint64_t cons; /* written by the consumer only */
};

struct seg_header {
	/* Line 0: written once by the server at creation; magic last. */
	CACHE_ALIGNED _Atomic uint64_t magic;
	uint32_t layout_major;
	uint32_t layout_minor;
	uint64_t total_size;
	uint64_t slots_offset;
	uint64_t slot_stride;
	uint32_t slot_count;
	uint32_t ring_size;
	int32_t server_pid;
	uint32_t server_uid;
	uint64_t epoch; /* distinguishes incarnations of one key or name */
	/* Line 1: endpoint state, written by the server. */
	CACHE_ALIGNED _Atomic uint32_t state;
	/* Line 2: the server's doorbell; any client rings it. */
	CACHE_ALIGNED struct event srv_ev;
	/* Line 3: bumped by clients on connect and leave, so the server rescans
	 * slot states only when something changed. */
	CACHE_ALIGNED _Atomic uint32_t conn_seq;
};

struct slot_ctl {
	/* Line 0: ownership. state by both sides (see enum); gen by the server. */
	CACHE_ALIGNED _Atomic uint32_t state;
	_Atomic uint32_t gen;
	_Atomic int32_t pid;  /* client-reported */
	_Atomic uint32_t uid; /* client-reported */
	/* Line 1: the client's doorbell; the server rings it. */
	CACHE_ALIGNED struct event cli_ev;
	/* Line 2: counters published by the server, for shmq stat. */
	CACHE_ALIGNED _Atomic uint64_t msgs_in;
	_Atomic uint64_t msgs_out;
	struct ring_idx req; /* client -> server */
	struct ring_idx rep; /* server -> client */
};

/* Ring record header. Payloads follow, padded to 8 bytes.
 *   word: len in the low 30 bits, REC_PAD and REC_REQUEST above them
 *   seal: rec_seal(position of this header in the stream), stored last with
 *         release: the consumer polls it to learn that the record is there.
 * A seal names the record's absolute position, so stale bytes from an earlier
 * lap never pass for a new record (see ring.h for why this is enough). */
struct rec_hdr {
	uint32_t word;
	uint32_t seal;
};

#define REC_LEN_MASK 0x3fffffffu
#define REC_REQUEST 0x40000000u /* SHMQ_MSG_REQUEST */
#define REC_PAD 0x80000000u
#define REC_SEAL_KEY 0x5351a5a5u

static inline uint32_t rec_seal(uint64_t pos)
{
	return (uint32_t)(pos >> 3) ^ REC_SEAL_KEY;
}

#define REC_ALIGN 8u
#define REC_HDR_SIZE ((uint32_t)sizeof(struct rec_hdr))

_Static_assert(sizeof(struct rec_hdr) == 8, "record header is 8 bytes");
_Static_assert(offsetof(struct seg_header, magic) == 0, "magic first");
_Static_assert(offsetof(struct seg_header, state) == 64, "state on line 1");
_Static_assert(offsetof(struct seg_header, srv_ev) == 128, "doorbell on line 2");
_Static_assert(offsetof(struct seg_header, conn_seq) == 192, "conn_seq on line 3");
_Static_assert(sizeof(struct seg_header) <= SHMQ_PAGE, "header fits its page");
_Static_assert(offsetof(struct slot_ctl, cli_ev) == 64, "client doorbell line");
_Static_assert(offsetof(struct slot_ctl, req) % SHMQ_CACHELINE == 0, "req ring");
_Static_assert(sizeof(struct ring_idx) == (size_t)2 * SHMQ_CACHELINE, "indices apart");
_Static_assert(sizeof(struct slot_ctl) % SHMQ_CACHELINE == 0, "slot_ctl lines");

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Geometry derived from (slots, ring_size): both sides compute it themselves
 * and compare with what the header claims. */
static inline uint64_t layout_slot_stride(uint32_t ring_size)
{
	return align_up(sizeof(struct slot_ctl) + 2ull * ring_size, SHMQ_PAGE);
}
static inline uint64_t layout_slots_offset(void)
{
	return align_up(sizeof(struct seg_header), SHMQ_PAGE);
}
static inline uint64_t layout_total(uint32_t slots, uint32_t ring_size)
{
	return layout_slots_offset() + (uint64_t)slots * layout_slot_stride(ring_size);
}

#endif
