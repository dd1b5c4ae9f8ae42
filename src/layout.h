/* SPDX-License-Identifier: MIT */
/*
 * The bytes of a shmq segment, layout 2. Both backends (System V and POSIX)
 * share this layout; man 7 shmq describes the protocol.
 *
 *   offset 0          struct seg_header (its own page)
 *   regions[i]        what the rest holds; layout 2.0 has one region, the
 *                     client slots:
 *     + 0             slot 0: struct slot_ctl, then req ring data, rep ring data
 *     + stride        slot 1 ...
 *
 * Room to grow: an incompatible change bumps SHMQ_LAYOUT_MAJOR (clients
 * refuse other majors); a compatible one bumps the minor, sets a bit in
 * features_compat, adds a region, or takes reserved bytes that layout 2.0
 * zeroes. A client refuses a segment with features_incompat bits it does
 * not know.
 *
 * Who writes what. Every field a peer can write is untrusted: each side
 * keeps its own copy of geometry and indices in private memory and validates
 * what it reads. What the server decides for a client lives in that client's
 * slot (slot_ctl.srv), which the server rewrites and which each client alone
 * reads, so a process that scribbles on the header or on its own slot cannot
 * change how the server treats the other clients. (Every client still maps
 * the whole segment, so a hostile one can write into another's slot: only
 * per-client memory would stop that.)
 */
#ifndef SHMQ_LAYOUT_H
#define SHMQ_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SHMQ_CACHELINE 64
#define SHMQ_PAGE 4096
/* "HMQSEG01": names a shmq segment of any layout version. Together with the
 * two version words after it, the one part of the header fixed forever. */
#define SHMQ_MAGIC 0x3130474553514d48ull
#define SHMQ_LAYOUT_MAJOR 2u
#define SHMQ_LAYOUT_MINOR 0u

/* features_incompat: what a client must understand to attach. */
#define SEG_FI_REQUEST_IDS (1ull << 0) /* request and reply records carry an id */
#define SEG_FI_KNOWN SEG_FI_REQUEST_IDS

#define CACHE_ALIGNED _Alignas(SHMQ_CACHELINE)

/* Endpoint state: seg_header.state, and slot_ctl.srv.state for one client. */
enum { EP_INIT = 0, EP_READY = 1, EP_DRAINING = 2, EP_CLOSED = 3 };

/* Slot state, slot_ctl.state. FREE and BANNED are set only by the server; a
 * client moves FREE -> CLAIMED (CAS) -> CONNECTED -> LEAVING. BANNED: the
 * server disconnected the client for breaking the protocol. */
enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_CONNECTED = 2, SLOT_LEAVING = 3, SLOT_BANNED = 4 };

/* A futex-backed event count that a client sleeps on. The sleeper sets
 * `waiting`, issues a full barrier, re-checks its condition, then sleeps
 * while `seq` is unchanged. The waker publishes, issues a full barrier, and
 * only if `waiting` is set bumps `seq` and calls FUTEX_WAKE. */
struct event {
	_Atomic uint32_t seq;
	_Atomic uint32_t waiting;
	/* Set once by the owner when it busy-polls (spin_us SHMQ_SPIN_FOREVER)
	 * and so never sleeps: wakers then skip the barrier and the check. A
	 * client that lies about it only delays its own wake-ups. */
	_Atomic uint32_t never_sleeps;
};

/* The server's side of one slot: what it tells this one client. Written by
 * the server (rewritten on every reset); the client only clears `waiting`. */
struct srv_side {
	_Atomic uint32_t state;        /* EP_*: the endpoint's state for this client */
	_Atomic uint32_t waiting;      /* the server sleeps on seg_header.srv_seq */
	_Atomic uint32_t never_sleeps; /* the server busy-polls: never wake it */
};

/* One ring's shared indices: free-running byte counters, each on its own
 * cache line so producer and consumer never write the same line. */
struct ring_idx {
	CACHE_ALIGNED _Atomic uint64_t prod; /* written by the producer only */
	CACHE_ALIGNED _Atomic uint64_t cons; /* written by the consumer only */
};

/* What a part of the segment holds. */
enum { REGION_NONE = 0, REGION_SLOTS = 1 };

struct seg_region {
	uint32_t type;    /* REGION_* */
	uint32_t flags;   /* none defined yet */
	uint64_t offset;  /* from the segment's start, page-aligned */
	uint64_t size;    /* bytes */
	uint64_t stride;  /* REGION_SLOTS: bytes per slot */
	uint32_t count;   /* REGION_SLOTS: slots */
	uint32_t param;   /* REGION_SLOTS: bytes per ring */
	uint64_t reserved_;
};

#define SEG_MAX_REGIONS 16

struct seg_header {
	/* Line 0: written once by the server at creation; magic last. The
	 * first 16 bytes are the same in every layout version. */
	CACHE_ALIGNED _Atomic uint64_t magic;
	uint32_t layout_major;
	uint32_t layout_minor;
	uint64_t total_size;
	uint64_t features_incompat;
	uint64_t features_compat;
	int32_t server_pid;
	uint32_t server_uid;
	uint64_t epoch; /* distinguishes incarnations of one key or name */
	uint32_t region_count;
	/* Line 1: endpoint state, written by the server. Read by clients only
	 * to connect (afterwards each reads its own slot's srv.state) and by
	 * shmq stat. */
	CACHE_ALIGNED _Atomic uint32_t state;
	/* Line 2: the futex word the server sleeps on. Only a word to sleep
	 * on: whether to wake the server is decided in each client's slot
	 * (srv.waiting), so a scribbler here causes spurious wake-ups, nothing
	 * more. */
	CACHE_ALIGNED _Atomic uint32_t srv_seq;
	/* Line 3: bumped by clients on connect and leave, a hint to rescan
	 * slot states; the server rate-limits how often it follows it. */
	CACHE_ALIGNED _Atomic uint32_t conn_seq;
	/* Lines 4..: the region table, written once at creation. */
	CACHE_ALIGNED struct seg_region regions[SEG_MAX_REGIONS];
};

struct slot_ctl {
	/* Line 0: ownership. state by both sides (see enum); gen by the server. */
	CACHE_ALIGNED _Atomic uint32_t state;
	_Atomic uint32_t gen;
	_Atomic int32_t pid;  /* client-reported */
	_Atomic uint32_t uid; /* client-reported */
	/* Line 1: the client's doorbell; the server rings it. */
	CACHE_ALIGNED struct event cli_ev;
	/* Line 2: the server's side of this slot. */
	CACHE_ALIGNED struct srv_side srv;
	/* Line 3: counters for shmq stat: msgs_* published by the server,
	 * late_replies by the client. */
	CACHE_ALIGNED _Atomic uint64_t msgs_in;
	_Atomic uint64_t msgs_out;
	_Atomic uint64_t late_replies;
	/* Lines 4-7. */
	struct ring_idx req; /* client -> server */
	struct ring_idx rep; /* server -> client */
	/* Lines 8-15: zero in layout 2.0, for later minor versions. */
	CACHE_ALIGNED unsigned char reserved_[8 * SHMQ_CACHELINE];
};

/* Ring record header. An id follows for requests and replies; then the
 * payload, padded to 8 bytes.
 *   word: len in the low 29 bits; above them the type: REC_REQUEST,
 *         REC_REPLY, REC_PAD, or none for a one-way message
 *   seal: rec_seal(position of this header in the stream), stored last with
 *         release: the consumer polls it to learn that the record is there.
 * A seal names the record's absolute position, so stale bytes from an earlier
 * lap never pass for a new record (see ring.h for why this is enough). */
struct rec_hdr {
	uint32_t word;
	uint32_t seal;
};

#define REC_LEN_MASK 0x1fffffffu
#define REC_REPLY 0x20000000u   /* carries the id of the request it answers */
#define REC_REQUEST 0x40000000u /* carries its id */
#define REC_PAD 0x80000000u
#define REC_TYPE_MASK 0xe0000000u
#define REC_SEAL_KEY 0x5351a5a5u

static inline uint32_t rec_seal(uint64_t pos)
{
	return (uint32_t)(pos >> 3) ^ REC_SEAL_KEY;
}

#define REC_ALIGN 8u
#define REC_HDR_SIZE ((uint32_t)sizeof(struct rec_hdr))
#define REC_ID_SIZE 8u

static inline uint32_t rec_has_id(uint32_t type)
{
	return (type & (REC_REQUEST | REC_REPLY)) != 0;
}

_Static_assert(sizeof(struct rec_hdr) == 8, "record header is 8 bytes");
_Static_assert(offsetof(struct seg_header, magic) == 0, "magic first");
_Static_assert(offsetof(struct seg_header, layout_major) == 8, "major: fixed forever");
_Static_assert(offsetof(struct seg_header, layout_minor) == 12, "minor: fixed forever");
_Static_assert(offsetof(struct seg_header, state) == 64, "state on line 1");
_Static_assert(offsetof(struct seg_header, srv_seq) == 128, "doorbell on line 2");
_Static_assert(offsetof(struct seg_header, conn_seq) == 192, "conn_seq on line 3");
_Static_assert(offsetof(struct seg_header, regions) == 256, "regions from line 4");
_Static_assert(sizeof(struct seg_region) == 48, "region entry");
_Static_assert(sizeof(struct seg_header) <= SHMQ_PAGE, "header fits its page");
_Static_assert(offsetof(struct slot_ctl, cli_ev) == 64, "client doorbell line");
_Static_assert(offsetof(struct slot_ctl, srv) == 128, "server side line");
_Static_assert(offsetof(struct slot_ctl, req) == 256, "req ring");
_Static_assert(offsetof(struct slot_ctl, rep) == 384, "rep ring");
_Static_assert(sizeof(struct ring_idx) == (size_t)2 * SHMQ_CACHELINE, "indices apart");
_Static_assert(sizeof(struct slot_ctl) == 1024, "slot_ctl: 8 lines used, 8 reserved");

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
