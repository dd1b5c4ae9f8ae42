/* SPDX-License-Identifier: MIT */
/* Fuzz target: a real client whose server has gone hostile. The client
 * pipelines requests; the fuzzer's bytes may overwrite the header and the
 * client's whole slot (state, srv side, indices, reply ring), and a script
 * of steps then mixes the client's calls (recv_reply by id or any, the reply
 * and push views, recv, cancel, flush, send_request, reserve_request, request,
 * stat) with a hostile server's writes (sealed record headers and ids in the
 * reply ring, any word of the slot or the header) and an honest server's
 * replies, pushes and shutdown. The client must not crash or read out of
 * bounds; it may report errors. And it must never hand out a reply for a
 * request it did not ask for: a reply returned is for an outstanding request
 * (the one asked for, with an id), never twice, never after its cancel.
 *
 * Input: [flags u8][npre u8][nops u8][pad u8]
 *        [nops ops of 8 bytes {op u8, arg u8, off u16, val u32}]
 *        [image: header from offset 0 (flags bit 0) or from `state`, up to
 *         the slots, then the client's slot; only with flags bit 1]
 * flags: bit 2 the server takes the npre requests before the image and
 * answers them in reverse order. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "hostile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IDS 512

/* What the harness knows of the client's requests. */
struct model {
	uint64_t live[MAX_IDS]; /* sent, not returned nor cancelled */
	int nlive;
	uint64_t dead[MAX_IDS]; /* returned or cancelled: never again */
	int ndead;
	int lost; /* a request went out whose id we do not know */
	uint64_t late;
};

static int find(const uint64_t *v, int n, uint64_t id)
{
	for (int i = 0; i < n; i++)
		if (v[i] == id)
			return i;
	return -1;
}

static void live_add(struct model *md, uint64_t id)
{
	/* Ids are the client's to pick, but never one still or once used. */
	if (find(md->live, md->nlive, id) >= 0 || find(md->dead, md->ndead, id) >= 0 ||
	    id == SHMQ_ANY_REQUEST)
		abort();
	if (md->nlive < MAX_IDS)
		md->live[md->nlive++] = id;
	else
		md->lost = 1;
}

static void kill_id(struct model *md, uint64_t id)
{
	int i = find(md->live, md->nlive, id);
	if (i >= 0)
		md->live[i] = md->live[--md->nlive];
	if (md->ndead < MAX_IDS)
		md->dead[md->ndead++] = id;
}

/* A reply the client returned for `want` (an id or SHMQ_ANY_REQUEST). */
static void got_reply(struct model *md, uint64_t want, const shmq_msg *m, ssize_t n, size_t cap)
{
	if (!(m->flags & SHMQ_MSG_REPLY) || (want != SHMQ_ANY_REQUEST && m->id != want) ||
	    m->len > cap || (n >= 0 && (size_t)n != m->len))
		abort();
	if (find(md->dead, md->ndead, m->id) >= 0)
		abort(); /* returned twice, or after its cancel */
	if (find(md->live, md->nlive, m->id) < 0 && !md->lost)
		abort(); /* a reply to no request of ours */
	kill_id(md, m->id);
}

/* The id an op asks for: one of ours, any, or whatever the input says. */
static uint64_t pick(const struct model *md, uint32_t arg, uint32_t val)
{
	if (arg & 0x80)
		return SHMQ_ANY_REQUEST;
	if ((arg & 0x40) || md->nlive == 0)
		return val;
	return md->live[arg % (uint32_t)md->nlive];
}

/* A recv_reply for id that failed with rc: -ENOENT only if no such request
 * is outstanding. */
static void recv_failed(const struct model *md, uint64_t id, int rc)
{
	if (rc != -ENOENT || md->lost)
		return;
	if (id == SHMQ_ANY_REQUEST ? md->nlive > 0 : find(md->live, md->nlive, id) >= 0)
		abort();
}

struct harness {
	shmq_server *s;
	shmq_client *c;
	unsigned char *seg;
	struct fuzz_maps maps;
	uint32_t slot;
	struct model md;
};

/* The honest server: take what the client sent and answer it (or push). */
static void serve_one(struct harness *hs, uint32_t arg, uint32_t val)
{
	shmq_msg m;
	static const unsigned char pay[FUZZ_RING];
	size_t len = val % (shmq_server_max_msg(hs->s) + 1);
	if (arg & 0x40) {
		shmq_client_id to = shmq_client_self(hs->c);
		shmq_server_send(hs->s, to, pay, len, 0);
		return;
	}
	if (shmq_server_recv_view(hs->s, &m, 0) != 0)
		return;
	if (m.flags & SHMQ_MSG_REQUEST)
		shmq_server_reply(hs->s, &m, pay, len, 0);
	else
		shmq_server_send(hs->s, m.from, pay, len, 0);
	shmq_server_release(hs->s, &m);
}

static void run_op(struct harness *hs, uint32_t op, uint32_t arg, uint32_t off, uint32_t val)
{
	static unsigned char buf[FUZZ_RING];
	struct model *md = &hs->md;
	shmq_client *c = hs->c;
	size_t max = shmq_client_max_msg(c);
	size_t cap = val % (max + 1);
	unsigned char *rep = fuzz_ring_data(hs->seg, hs->slot, 1);
	uint64_t id = pick(md, arg, val);
	shmq_msg m;
	ssize_t n;
	int rc;

	switch (op % 16) {
	case 0: /* recv_reply, copying into a buffer of cap bytes */
		memset(&m, 0, sizeof(m));
		n = shmq_client_recv_reply(c, id, buf, cap, &m, 0);
		if (n >= 0)
			got_reply(md, id, &m, n, cap);
		else if (n == -EMSGSIZE && (m.len <= cap || m.len > max))
			abort();
		else
			recv_failed(md, id, (int)n);
		break;
	case 1: /* recv_reply_view, then release */
		rc = shmq_client_recv_reply_view(c, id, &m, 0);
		if (rc == 0) {
			fuzz_check_view(&hs->maps, m.data, m.len, hs->slot, 1);
			touch(m.data, m.len);
			got_reply(md, id, &m, -1, max);
			if (arg & 1)
				shmq_client_cancel(c, m.id); /* -EBUSY: it is the view */
			if (shmq_client_release(c, &m) != 0)
				abort();
		} else {
			recv_failed(md, id, rc);
		}
		break;
	case 2: /* recv: messages of the server's own, never a reply */
		n = shmq_client_recv(c, buf, cap, 0);
		if (n > (ssize_t)cap)
			abort();
		break;
	case 3:
		rc = shmq_client_recv_view(c, &m, 0);
		if (rc == 0) {
			if (m.flags & SHMQ_MSG_REPLY)
				abort();
			fuzz_check_view(&hs->maps, m.data, m.len, hs->slot, 1);
			touch(m.data, m.len);
			if (shmq_client_release(c, &m) != 0)
				abort();
		}
		break;
	case 4: /* cancel */
		if (id == SHMQ_ANY_REQUEST)
			break;
		rc = shmq_client_cancel(c, id);
		if (find(md->live, md->nlive, id) >= 0) {
			if (rc != 0)
				abort();
			kill_id(md, id);
		} else if (rc == 0 && !md->lost) {
			abort();
		}
		break;
	case 5:
		shmq_client_flush(c, 0);
		break;
	case 6: /* a pipelined request */
		rc = shmq_client_send_request(c, buf, val % 64, &id, 0);
		if (rc == 0)
			live_add(md, id);
		break;
	case 7: /* one-way, copied or zero-copy */
		if (arg & 1) {
			void *p;
			if (shmq_client_reserve(c, val % 64, &p, 0) == 0) {
				memset(p, 's', val % 64);
				if (shmq_client_commit(c, val % 64, NULL) != 0)
					abort();
			}
		} else {
			shmq_client_send(c, buf, val % 64, 0);
		}
		break;
	case 8: { /* zero-copy request, committed or given up */
		void *p;
		rc = shmq_client_reserve_request(c, val % 64, &p, 0);
		if (rc == 0) {
			memset(p, 'r', val % 64);
			if (arg & 1) {
				if (shmq_client_abort(c) != 0)
					abort();
			} else {
				if (shmq_client_commit(c, (val % 64) / 2, &id) != 0)
					abort();
				live_add(md, id);
			}
		}
		break;
	}
	case 9: /* request with no time to wait: the reply, or given up */
		n = shmq_client_request(c, buf, val % 64, buf, (arg & 1) ? cap : sizeof(buf), 0);
		/* -EAGAIN, -ETIMEDOUT: nothing sent; -EINPROGRESS: abandoned.
		 * Otherwise it may be outstanding under an id we do not know
		 * (-EMSGSIZE: its reply is kept for recv_reply(ANY)). */
		if (n < 0 && n != -EAGAIN && n != -ETIMEDOUT && n != -EINPROGRESS)
			md->lost = 1;
		break;
	case 10: {
		shmq_client_stats st;
		if (shmq_client_stat(c, &st) != 0 || st.late_replies < md->late ||
		    (!md->lost && st.inflight > (uint64_t)md->nlive))
			abort();
		md->late = st.late_replies;
		shmq_client_check(c);
		break;
	}
	case 11: /* any word of our slot */
		memcpy((unsigned char *)fuzz_slot(hs->seg, hs->slot) + (off * 4u) % FUZZ_STRIDE,
		       &val, 4);
		break;
	case 12: /* a record header in the reply ring, sealed for position pos */
		fuzz_rec_put(rep, (uint64_t)off * REC_ALIGN, val);
		break;
	case 13: /* the id after it: one of ours (arg), or any */
		fuzz_rec_id(rep, (uint64_t)off * REC_ALIGN, (arg & 0x40) ? val : id);
		break;
	case 14:
		if (arg & 0x80)
			shmq_server_shutdown(hs->s);
		else
			serve_one(hs, arg, val);
		break;
	default: /* a header word (not the magic), or the srv side of our slot */
		if (arg & 1) {
			struct slot_ctl *sc = fuzz_slot(hs->seg, hs->slot);
			memcpy((unsigned char *)&sc->srv + (off % 3) * 4, &val, 4);
		} else if (off % 256 >= 2) {
			memcpy(hs->seg + (off % 256) * 4, &val, 4);
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shmq_config cfg = fuzz_config();
	static struct harness hs;
	memset(&hs, 0, sizeof(hs));
	if (shmq_server_create(&hs.s, &cfg) < 0 || shmq_client_connect(&hs.c, &cfg) < 0)
		abort();
	size_t len;
	hs.seg = fuzz_map(&len);
	hs.slot = shmq_client_self(hs.c).slot;
	fuzz_maps_read(&hs.maps);

	struct fuzz_in in = {data, size};
	unsigned flags = fuzz_take(&in, 1);
	unsigned npre = fuzz_take(&in, 1) % 8;
	unsigned nops = fuzz_take(&in, 1);
	fuzz_take(&in, 1);
	struct fuzz_in ops = in;
	size_t opbytes = (size_t)nops * 8 < in.n ? (size_t)nops * 8 : in.n;
	ops.n = opbytes;
	in.p += opbytes;
	in.n -= opbytes;

	/* Requests in flight before the server turns. */
	for (unsigned i = 0; i < npre; i++) {
		uint64_t id;
		if (shmq_client_send_request(hs.c, "abcdefgh", i, &id, 0) == 0)
			live_add(&hs.md, id);
	}
	if (flags & 4) {
		shmq_msg m[8];
		int k = 0;
		while (k < 8 && shmq_server_recv_view(hs.s, &m[k], 0) == 0) {
			shmq_msg req = m[k];
			shmq_server_release(hs.s, &m[k]);
			m[k++] = req;
		}
		while (k-- > 0)
			shmq_server_reply(hs.s, &m[k], "reply", m[k].len % 6, 0);
	}
	if (flags & 2) {
		/* The image: spare the magic or not (the client copied the
		 * geometry at connect, so even a clobbered magic must not
		 * matter now), then our whole slot. */
		size_t from = (flags & 1) ? 0 : offsetof(struct seg_header, state);
		size_t n = in.n < FUZZ_SLOTS_OFF - from ? in.n : FUZZ_SLOTS_OFF - from;
		memcpy(hs.seg + from, in.p, n);
		in.p += n;
		in.n -= n;
		n = in.n < FUZZ_STRIDE ? in.n : FUZZ_STRIDE;
		memcpy(fuzz_slot(hs.seg, hs.slot), in.p, n);
	}

	while (ops.n >= 8) {
		uint32_t op = fuzz_take(&ops, 1), arg = fuzz_take(&ops, 1);
		uint32_t off = fuzz_take(&ops, 2), val = fuzz_take(&ops, 4);
		run_op(&hs, op, arg, off, val);
	}
	/* What is left: every outstanding reply asked for once more. */
	for (int i = hs.md.nlive - 1; i >= 0; i--)
		run_op(&hs, 0, (uint32_t)i & 0x3f, 0, (uint32_t)shmq_client_max_msg(hs.c));
	run_op(&hs, 10, 0, 0, 0);
	shmq_client_close(hs.c);
	munmap(hs.seg, len);
	shmq_server_close(hs.s);
	return 0;
}
