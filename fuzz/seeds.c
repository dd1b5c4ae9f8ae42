/* SPDX-License-Identifier: MIT */
/* Writes the seed corpus (fuzz/corpus/<target>/) from the real structures,
 * so the seeds follow the layout (layout 2: region table, records with ids):
 * valid headers, rings with messages, requests, replies and pads, slot tables
 * with connected clients, and the scripts the server and client targets read
 * after them. Regenerate with:
 *   gcc -std=gnu11 -Isrc -Iinclude fuzz/seeds.c src/ring.c -o /tmp/seeds && /tmp/seeds fuzz/corpus
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "ring.h"

#define RING  256u /* FUZZ_RING */
#define SLOTS 2u   /* FUZZ_SLOTS */

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

/* A growing input file. */
struct out {
	unsigned char b[1 << 16];
	size_t n;
};

static void out_bytes(struct out *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		abort();
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void out_u(struct out *o, uint64_t v, size_t bytes)
{
	for (size_t i = 0; i < bytes; i++) {
		unsigned char c = (unsigned char)(v >> (8 * i));
		out_bytes(o, &c, 1);
	}
}

/* A ring of `size` bytes holding records of the given lengths and types
 * (ids 1, 2, ... for requests and replies), starting at position start (so
 * some seeds wrap). */
static void fill_ring(unsigned char *area, struct ring_idx *idx, uint32_t size, uint64_t start,
		      const uint32_t *lens, const uint32_t *types, int n)
{
	struct ring prod, cons;
	uint64_t id = 1;
	store_relaxed(&idx->prod, start);
	store_relaxed(&idx->cons, start);
	ring_format(area, size, start);
	ring_init(&prod, idx, area, size, start);
	ring_init(&cons, idx, area, size, start);
	for (int i = 0; i < n; i++) {
		void *p;
		while (ring_reserve(&prod, lens[i], types[i], &p) == -EAGAIN) {
			struct ring_view v;
			if (ring_peek(&cons, &v) == 0)
				ring_release(&cons);
			ring_flush(&cons);
		}
		memset(p, 'a' + i, lens[i]);
		ring_commit(&prod, lens[i], rec_has_id(types[i]) ? id++ : 0);
	}
}

static void seg_header(unsigned char *buf, uint32_t slots, uint32_t ring)
{
	struct seg_header *h = (void *)buf;
	h->layout_major = SHMQ_LAYOUT_MAJOR;
	h->layout_minor = SHMQ_LAYOUT_MINOR;
	h->total_size = layout_total(slots, ring);
	h->features_incompat = SEG_FI_REQUEST_IDS;
	h->server_pid = 1;
	h->region_count = 1;
	h->regions[0] = (struct seg_region){
	    .type = REGION_SLOTS,
	    .offset = layout_slots_offset(),
	    .size = (uint64_t)slots * layout_slot_stride(ring),
	    .stride = layout_slot_stride(ring),
	    .count = slots,
	    .param = ring,
	};
	store_relaxed(&h->state, EP_READY);
	store_relaxed(&h->magic, SHMQ_MAGIC);
}

/* A connected slot as the server leaves it, in a slot area. */
static struct slot_ctl *slot_at(unsigned char *area, uint32_t i)
{
	struct slot_ctl *c = (void *)(area + (size_t)i * layout_slot_stride(RING));
	store_relaxed(&c->state, SLOT_CONNECTED);
	store_relaxed(&c->gen, 1);
	store_relaxed(&c->srv.state, EP_READY);
	return c;
}

static unsigned char *req_data(struct slot_ctl *c)
{
	return (unsigned char *)c + sizeof(*c);
}

static unsigned char *rep_data(struct slot_ctl *c)
{
	return (unsigned char *)c + sizeof(*c) + RING;
}

/* fuzz_server: a script entry {off u16, kind u8, slot u8, val u32}. */
static void srv_script(struct out *o, uint32_t off, uint32_t kind, uint32_t slot, uint32_t val)
{
	out_u(o, off, 2);
	out_u(o, kind, 1);
	out_u(o, slot, 1);
	out_u(o, val, 4);
}

/* fuzz_client: an op {op u8, arg u8, off u16, val u32}. */
static void cli_op(struct out *o, uint32_t op, uint32_t arg, uint32_t off, uint32_t val)
{
	out_u(o, op, 1);
	out_u(o, arg, 1);
	out_u(o, off, 2);
	out_u(o, val, 4);
}

enum {
	OP_RECV_REPLY,
	OP_REPLY_VIEW,
	OP_RECV,
	OP_RECV_VIEW,
	OP_CANCEL,
	OP_FLUSH,
	OP_SEND_REQ,
	OP_SEND,
	OP_RESERVE_REQ,
	OP_REQUEST,
	OP_STAT,
	OP_SLOT_WORD,
	OP_REC_HDR,
	OP_REC_ID,
	OP_SERVER,
	OP_HDR_WORD
};
#define ANY 0x80u /* arg: SHMQ_ANY_REQUEST */
#define RAW 0x40u /* arg: the id is val */

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "corpus";
	char dir[512];
	static unsigned char buf[1 << 16];
	static struct out o;
	static const uint32_t lens[] = {0, 1, 7, 8, 9, 60, 100, 96};
	static const uint32_t types[] = {0,	      REC_REQUEST, REC_REPLY, 0,
					 REC_REQUEST, REC_REPLY,   0,	      REC_REQUEST};
	static const uint32_t reqs[] = {REC_REQUEST, 0, REC_REQUEST, REC_REQUEST, 0, REC_REQUEST};
	static const uint32_t reps[] = {REC_REPLY, REC_REPLY, 0, REC_REPLY, REC_REPLY, REC_REPLY};
	const size_t stride = layout_slot_stride(RING);
	const size_t hdr_part = layout_slots_offset() - offsetof(struct seg_header, state);

	/* header */
	snprintf(dir, sizeof(dir), "%s/header", root);
	memset(buf, 0, sizeof(buf));
	seg_header(buf, 1, 256);
	buf[layout_total(1, 256) - 1] = 0xf; /* force nothing the header has right */
	put(dir, "valid-1x256", buf, layout_total(1, 256));
	memset(buf, 0, sizeof(buf));
	seg_header(buf, 2, 4096);
	put(dir, "valid-2x4096", buf, layout_total(2, 4096));

	/* ring: [size selector][start u64][start-is-zero flag][data][script:
	 * {op u8, unused u8, off u16, val u32}...]. The records fit in one lap
	 * (with their ids), so the target's consumer, which starts at start,
	 * finds every one: lengths of their own. */
	snprintf(dir, sizeof(dir), "%s/ring", root);
	for (int k = 0; k < 4; k++) {
		static const uint32_t ring_lens[] = {0, 1, 7, 8, 9, 24, 40, 16};
		struct ring_idx idx;
		uint64_t start = k == 0 || k == 3 ? 0 : k == 1 ? 200 : (1ull << 32) - 40;
		unsigned char *area = buf + 10;
		memset(buf, 0, 10 + 256);
		fill_ring(area, &idx, 256, start, ring_lens, types, 8);
		if (load_relaxed(&idx.cons) != start)
			abort(); /* a record was consumed to make room */
		buf[0] = 0;
		memcpy(buf + 1, &start, 8);
		buf[9] = 0;
		o.n = 0;
		out_bytes(&o, buf, 10 + 256);
		if (k == 3) {
			/* Once the consumer has taken all 8, the producer writes
			 * a reply with an id where it stands (op 1: the header
			 * word there, op 2: any word, op 0: a valid seal), then
			 * a record with REC_REQUEST and REC_REPLY (-EPROTO). */
			uint32_t at = (uint32_t)(load_relaxed(&idx.prod) & 255);
			uint32_t ops[][3] = {{1, 0, 5 | REC_REPLY},
					     {2, ((at + 8) & 255) / 4, 0x1d1d1d1d},
					     {2, ((at + 12) & 255) / 4, 0x2e2e2e2e},
					     {0, 0, 0},
					     {1, 0, 3 | REC_REQUEST | REC_REPLY},
					     {0, 0, 0}};
			for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
				out_u(&o, ops[i][0], 1);
				out_u(&o, 0, 1);
				out_u(&o, ops[i][1], 2);
				out_u(&o, ops[i][2], 4);
			}
		}
		char name[32];
		if (k == 3)
			snprintf(name, sizeof(name), "script-reply");
		else
			snprintf(name, sizeof(name), "records-%d", k);
		put(dir, name, o.b, o.n);
	}

	/* server: [flags][shutdown_at][image_len u16][slot area][script] */
	snprintf(dir, sizeof(dir), "%s/server", root);
	memset(buf, 0, sizeof(buf));
	struct slot_ctl *c0 = slot_at(buf, 0);
	fill_ring(req_data(c0), &c0->req, RING, 0, lens, reqs, 6);
	for (int k = 0; k < 2; k++) {
		o.n = 0;
		out_u(&o, 0, 1);
		out_u(&o, 0, 1);
		out_u(&o, stride, 2);
		store_relaxed(&c0->state, k ? SLOT_LEAVING : SLOT_CONNECTED);
		out_bytes(&o, buf, stride);
		put(dir, k ? "slot0-leaving" : "slot0-requests", o.b, o.n);
	}
	store_relaxed(&c0->state, SLOT_CONNECTED);
	struct slot_ctl *c1 = slot_at(buf, 1);
	fill_ring(req_data(c1), &c1->req, RING, 0, lens + 2, reqs, 4);
	/* Both slots; shut down at step 3, answering after the release. */
	o.n = 0;
	out_u(&o, 1 | (1 << 1), 1);
	out_u(&o, 3, 1);
	out_u(&o, 2 * stride, 2);
	out_bytes(&o, buf, 2 * stride);
	put(dir, "two-slots-shutdown", o.b, o.n);
	/* Both slots, received into a 16-byte buffer, reserve_reply + commit. */
	o.n = 0;
	out_u(&o, (2 << 4) | 8 | (2 << 1), 1);
	out_u(&o, 0, 1);
	out_u(&o, 2 * stride, 2);
	out_bytes(&o, buf, 2 * stride);
	put(dir, "two-slots-copy", o.b, o.n);
	/* No image: the script connects slot 1 and writes records at its
	 * position 0: a request with an id (then more), a reply (banned). */
	o.n = 0;
	out_u(&o, 1, 1);
	out_u(&o, 40, 1);
	out_u(&o, 0, 2);
	srv_script(&o, 0, 2, 1, 7);			  /* id 7 at position 0 */
	srv_script(&o, 2, 1, 1, REC_REQUEST | REC_REPLY); /* garbage at 16, overwritten */
	srv_script(&o, 0, 1, 1, REC_REQUEST | 4);	  /* request, 4 bytes */
	srv_script(&o, 0, 3, 1, SLOT_CONNECTED);
	srv_script(&o, 3, 2, 1, 8); /* id 8 at position 24 */
	srv_script(&o, 3, 1, 1, REC_REQUEST | 0);
	srv_script(&o, 5, 2, 1, 9);
	srv_script(&o, 5, 1, 1, REC_REPLY | 0);	       /* a reply from a client */
	srv_script(&o, 0, 5, 1, 4 | (EP_CLOSED << 3)); /* srv side scribbled */
	srv_script(&o, 32, 4, 0, 0xffffffffu);	       /* srv_seq */
	srv_script(&o, 1, 3, 1, SLOT_LEAVING);
	put(dir, "script-records", o.b, o.n);

	/* client: [flags][npre][nops][pad][ops][image: header from `state`,
	 * then the client's slot] */
	snprintf(dir, sizeof(dir), "%s/client", root);
	/* 1. Replies to the six requests in flight, in the image; taken by
	 * id, by any, as views; one cancelled. */
	memset(buf, 0, sizeof(buf));
	seg_header(buf, SLOTS, RING);
	unsigned char *slot = buf + layout_slots_offset();
	struct slot_ctl *c = slot_at(slot, 0);
	fill_ring(rep_data(c), &c->rep, RING, 0, lens, reps, 6);
	o.n = 0;
	out_u(&o, 2, 1);
	out_u(&o, 6, 1);
	out_u(&o, 8, 1);
	out_u(&o, 0, 1);
	cli_op(&o, OP_RECV_REPLY, 2, 0, RING);
	cli_op(&o, OP_REPLY_VIEW, ANY, 0, 0);
	cli_op(&o, OP_RECV, 0, 0, RING);
	cli_op(&o, OP_CANCEL, 0, 0, 0);
	cli_op(&o, OP_RECV_REPLY, ANY, 0, 3);
	cli_op(&o, OP_RECV_REPLY, ANY, 0, RING);
	cli_op(&o, OP_STAT, 0, 0, 0);
	cli_op(&o, OP_FLUSH, 0, 0, 0);
	out_bytes(&o, buf + offsetof(struct seg_header, state), hdr_part);
	out_bytes(&o, slot, stride);
	put(dir, "replies", o.b, o.n);

	/* 2. An honest server answers four pipelined requests in reverse;
	 * more requests, replies and pushes follow, then a shutdown. */
	o.n = 0;
	out_u(&o, 4, 1);
	out_u(&o, 4, 1);
	out_u(&o, 16, 1);
	out_u(&o, 0, 1);
	cli_op(&o, OP_RECV_REPLY, 1, 0, RING);
	cli_op(&o, OP_REPLY_VIEW, 0, 0, 0);
	cli_op(&o, OP_SEND_REQ, 0, 0, 12);
	cli_op(&o, OP_RESERVE_REQ, 0, 0, 20);
	cli_op(&o, OP_SERVER, 0, 0, 5);
	cli_op(&o, OP_SERVER, 0, 0, 33);
	cli_op(&o, OP_SERVER, RAW, 0, 7); /* a push */
	cli_op(&o, OP_RECV_REPLY, ANY, 0, RING);
	cli_op(&o, OP_RECV_VIEW, 0, 0, 0);
	cli_op(&o, OP_RECV_REPLY, ANY, 0, RING);
	cli_op(&o, OP_REQUEST, 0, 0, 3);
	cli_op(&o, OP_SEND, 0, 0, 9);
	cli_op(&o, OP_SERVER, ANY, 0, 0); /* shutdown */
	cli_op(&o, OP_FLUSH, 0, 0, 0);
	cli_op(&o, OP_SEND_REQ, 0, 0, 1);
	cli_op(&o, OP_STAT, 0, 0, 0);
	put(dir, "pipelined-honest", o.b, o.n);

	/* 3. A hostile server writes records into the reply ring: a reply to
	 * our first request, one to an id never used, a request. */
	o.n = 0;
	out_u(&o, 0, 1);
	out_u(&o, 3, 1);
	out_u(&o, 12, 1);
	out_u(&o, 0, 1);
	cli_op(&o, OP_REC_ID, 0, 0, 0);		     /* ours, at position 0 */
	cli_op(&o, OP_REC_HDR, 0, 0, REC_REPLY | 8); /* 24 bytes */
	cli_op(&o, OP_REC_ID, RAW, 3, 0x12345678u);  /* never used, at 24 */
	cli_op(&o, OP_REC_HDR, 0, 3, REC_REPLY | 0); /* 16 bytes */
	cli_op(&o, OP_RECV_REPLY, ANY, 0, RING);
	cli_op(&o, OP_RECV_REPLY, ANY, 0, RING);
	cli_op(&o, OP_STAT, 0, 0, 0);
	cli_op(&o, OP_REC_HDR, 0, 5, REC_REQUEST | 0); /* at 40 */
	cli_op(&o, OP_RECV_REPLY, ANY, 0, RING);
	cli_op(&o, OP_HDR_WORD, 1, 0, 0x5eed); /* srv.state */
	cli_op(&o, OP_FLUSH, 0, 0, 0);
	cli_op(&o, OP_STAT, 0, 0, 0);
	put(dir, "hostile-records", o.b, o.n);

	/* args: [parser selector][string] */
	snprintf(dir, sizeof(dir), "%s/args", root);
	static const char *args[] = {"\x00"
				     "64",
				     "\x01"
				     "64k",
				     "\x02"
				     "0x4d2",
				     "\x03"
				     "0660",
				     "\x04"
				     "forever",
				     "\x01"
				     "1M",
				     "\x02"
				     "-5"};
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "arg-%zu", i);
		put(dir, name, args[i], 1 + strlen(args[i] + 1));
	}
	return 0;
}
