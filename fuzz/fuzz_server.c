/* SPDX-License-Identifier: MIT */
/* Fuzz target: a real server whose slot table and request rings hostile
 * clients have overwritten with the fuzzer's bytes, and go on writing into
 * between the server's calls. The server must not crash, hang or read out of
 * bounds whatever the slots claim; it answers requests (shmq_server_reply,
 * before or after the release, or reserve_reply + commit/abort), sends
 * messages of its own, lists its clients, and, when the input says so, shuts
 * down: from then on it hands out only what was committed before, and the
 * drain ends (-ESHUTDOWN, for good) within a bounded number of polls.
 *
 * Input: [flags u8][shutdown_at u8][image_len u16]
 *        [image_len bytes over the slot area (struct slot_ctl, req ring, rep
 *         ring, per slot; layout 2)]
 *        [script: 8-byte entries {off u16, kind u8, slot u8, val u32}, one
 *         applied after each server step]
 * flags: bit 0 shutdown at step shutdown_at; bits 1-2 how requests are
 * answered; bit 3 receive with shmq_server_recv into a buffer of
 * (flags >> 4) * 8 bytes (-EMSGSIZE, then the retry) instead of a view. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "hostile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEPS	    128
#define DRAIN_POLLS 1024

/* One write of a hostile client between two server steps. */
static void scribble(unsigned char *seg, struct fuzz_in *script)
{
	if (script->n < 8)
		return;
	uint32_t off = fuzz_take(script, 2);
	uint32_t kind = fuzz_take(script, 1);
	uint32_t slot = fuzz_take(script, 1) % FUZZ_SLOTS;
	uint32_t val = fuzz_take(script, 4);
	struct seg_header *h = (struct seg_header *)(void *)seg;
	struct slot_ctl *c = fuzz_slot(seg, slot);
	unsigned char *req = fuzz_ring_data(seg, slot, 0);
	uint64_t pos = (uint64_t)off * REC_ALIGN;

	switch (kind % 6) {
	case 0: /* any aligned word of the slot area */
		memcpy(seg + FUZZ_SLOTS_OFF + ((off * 4u) % FUZZ_AREA), &val, 4);
		break;
	case 1: /* a record header sealed for position pos */
		fuzz_rec_put(req, pos, val);
		fuzz_srv_bell(seg);
		break;
	case 2: /* the id of the record at pos */
		fuzz_rec_id(req, pos, (uint64_t)val | (uint64_t)(kind >> 3) << 32);
		break;
	case 3: /* the slot's state, and a hint to look */
		store_release(&c->state, val % 8 == 7 ? val : val % 8);
		atomic_fetch_add_explicit(&h->conn_seq, 1, memory_order_release);
		fuzz_srv_bell(seg);
		break;
	case 4: /* any header word but the magic */
		if (off % (sizeof(*h) / 4) >= 2)
			memcpy(seg + (off % (sizeof(*h) / 4)) * 4, &val, 4);
		break;
	default: /* the server's side of the slot, and its doorbell */
		store_relaxed(&c->srv.waiting, val & 1);
		store_relaxed(&c->srv.never_sleeps, (val >> 1) & 1);
		if (val & 4)
			store_relaxed(&c->srv.state, val >> 3);
		fuzz_srv_bell(seg);
		break;
	}
}

/* What a received message must look like. */
static void check_msg(const struct fuzz_maps *maps, const shmq_msg *m, size_t max)
{
	if (m->len > max || m->from.slot >= FUZZ_SLOTS || (m->flags & ~SHMQ_MSG_REQUEST) ||
	    (!(m->flags & SHMQ_MSG_REQUEST) && m->id != 0))
		abort();
	if (m->data)
		fuzz_check_view(maps, m->data, m->len, m->from.slot, 0);
}

static int sent_ok(int rc)
{
	/* Timeout 0: no room is -EAGAIN; a client banned or gone -ENOTCONN. */
	return rc == 0 || rc == -EAGAIN || rc == -ENOTCONN;
}

/* Answer request m (mode 0..3), or send a message of our own for a one-way
 * message; the view m is still held unless mode says to release it first. */
static void answer(shmq_server *s, shmq_msg *m, unsigned mode, int *released)
{
	static const char ok[] = "ok-reply";
	void *buf;
	int rc;
	if (!(m->flags & SHMQ_MSG_REQUEST)) {
		if (mode & 1) {
			rc = shmq_server_reserve(s, m->from, m->len % sizeof(ok), &buf, 0);
			if (rc == 0) {
				memset(buf, 'p', m->len % sizeof(ok));
				rc = shmq_server_commit(s, m->len % sizeof(ok));
				if (rc != 0 && rc != -ENOTCONN)
					abort();
			}
		} else {
			rc = shmq_server_send(s, m->from, ok, 2, 0);
		}
		if (!sent_ok(rc))
			abort();
		return;
	}
	switch (mode & 3) {
	case 0:
		rc = shmq_server_reply(s, m, ok, sizeof(ok), 0);
		break;
	case 1: /* only from, id and flags are read: valid after the release */
		if (!*released) {
			if (shmq_server_release(s, m) != 0)
				abort();
			*released = 1;
		}
		rc = shmq_server_reply(s, m, ok, m->len % sizeof(ok), 0);
		break;
	case 2:
		rc = shmq_server_reserve_reply(s, m, sizeof(ok), &buf, 0);
		if (rc == 0) {
			memcpy(buf, ok, sizeof(ok));
			rc = shmq_server_commit(s, m->len % sizeof(ok));
			if (rc != 0 && rc != -ENOTCONN)
				abort();
			rc = 0;
		}
		break;
	default:
		rc = shmq_server_reserve_reply(s, m, shmq_server_max_msg(s), &buf, 0);
		if (rc == 0) {
			touch(buf, 1);
			if (shmq_server_abort(s) != 0)
				abort();
		}
		break;
	}
	if (!sent_ok(rc))
		abort();
}

/* One receive: 1 with a message handled, 0 none, -1 shut down. */
static int step(shmq_server *s, const struct fuzz_maps *maps, unsigned flags, int *shut)
{
	size_t max = shmq_server_max_msg(s);
	shmq_msg m;
	int rc;
	if (flags & 8) {
		static unsigned char buf[FUZZ_RING];
		size_t cap = (size_t)(flags >> 4) * 8;
		ssize_t n = shmq_server_recv(s, buf, cap, &m, 0);
		if (n == -EMSGSIZE) {
			if (m.len <= cap || m.len > max)
				abort();
			n = shmq_server_recv(s, buf, sizeof(buf), &m, 0);
			/* The very message comes first, unless its client was
			 * banned meanwhile: then whatever is next. */
		}
		rc = n < 0 ? (int)n : 0;
		if (rc == 0) {
			if ((size_t)n != m.len)
				abort();
			m.data = NULL;
			check_msg(maps, &m, max);
			int released = 1;
			answer(s, &m, flags >> 1, &released);
		}
	} else {
		rc = shmq_server_recv_view(s, &m, 0);
		if (rc == 0) {
			check_msg(maps, &m, max);
			touch(m.data, m.len);
			int released = 0;
			answer(s, &m, flags >> 1, &released);
			if (!released && shmq_server_release(s, &m) != 0)
				abort();
		}
	}
	if (rc == -ESHUTDOWN) {
		if (!*shut)
			abort(); /* never without shmq_server_shutdown */
		return -1;
	}
	if (rc != 0 && rc != -EAGAIN)
		abort();
	return rc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shmq_config cfg = fuzz_config();
	shmq_server *s;
	if (shmq_server_create(&s, &cfg) < 0)
		abort();
	size_t len;
	unsigned char *seg = fuzz_map(&len);
	struct fuzz_maps maps;
	fuzz_maps_read(&maps);

	struct fuzz_in in = {data, size};
	unsigned flags = fuzz_take(&in, 1);
	unsigned shutdown_at = fuzz_take(&in, 1) % STEPS;
	size_t img = fuzz_take(&in, 2);
	if (img > in.n)
		img = in.n;
	if (img > FUZZ_AREA)
		img = FUZZ_AREA;
	memcpy(seg + FUZZ_SLOTS_OFF, in.p, img);
	in.p += img;
	in.n -= img;
	/* Tell the server the slots changed, as a connecting client would. */
	atomic_fetch_add(&((struct seg_header *)(void *)seg)->conn_seq, 1);
	fuzz_srv_bell(seg);

	int shut = 0, done = 0;
	for (int i = 0; i < STEPS && !done; i++) {
		if ((flags & 1) && (unsigned)i == shutdown_at) {
			if (shmq_server_shutdown(s) != 0 || shmq_server_shutdown(s) != -EALREADY)
				abort();
			shut = 1;
		}
		done = step(s, &maps, flags, &shut) < 0;
		if (i % 8 == 7) {
			shmq_client_info info[FUZZ_SLOTS];
			int n = shmq_server_clients(s, info, FUZZ_SLOTS);
			if (n < 0 || n > (int)FUZZ_SLOTS)
				abort();
			for (int k = 0; k < n; k++)
				if (info[k].id.slot >= FUZZ_SLOTS ||
				    shmq_server_client_info(s, info[k].id, &info[k]) != 0)
					abort();
		}
		scribble(seg, &in);
	}
	if (shut) {
		/* No more writes: what was owed is handed out or its client
		 * banned, and the drain ends. */
		int polls = 0;
		while (!done) {
			if (++polls > DRAIN_POLLS)
				abort(); /* the drain never ends */
			done = step(s, &maps, flags, &shut) < 0;
		}
		shmq_msg m;
		if (shmq_server_recv_view(s, &m, 0) != -ESHUTDOWN)
			abort();
	}
	munmap(seg, len);
	shmq_server_close(s);
	return 0;
}
