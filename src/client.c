/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomics.h"
#include "internal.h"
#include "ring.h"
#include "shmq.h"
#include "wait.h"

struct shmq_client {
	struct seg seg;
	struct seg_header *hdr;
	struct geometry g;
	struct slot_ctl *ctl;
	struct ring req; /* we produce */
	struct ring rep; /* we consume */
	uint32_t slot;
	uint32_t gen;
	uint32_t spin_us;
	int view_open;
	int resv_open;
	int broken; /* sticky error once the server is gone or misbehaved */
};

/* Is the server still there, and still ours? */
static int server_state(shmq_client *c)
{
	if (c->broken)
		return c->broken;
	if (load_acquire(&c->hdr->state) != EP_READY)
		return c->broken = -EPIPE;
	uint32_t st = load_acquire(&c->ctl->state);
	if (st == SLOT_BANNED)
		return c->broken = -ECONNRESET;
	if (st != SLOT_CONNECTED)
		return c->broken = -EPROTO;
	return 0;
}

static int check_client(void *arg)
{
	shmq_client *c = arg;
	int rc = server_state(c);
	if (rc)
		return rc;
	/* The kernel drops the server's lock when it dies, whatever happened
	 * to its pid. */
	if (lock_held(c->seg.lock_fd, 0) != 1)
		return c->broken = -EPIPE;
	return 0;
}

static int claim_slot(shmq_client *c)
{
	int fd = c->seg.lock_fd;
	for (uint32_t i = 0; i < c->g.slots; i++) {
		/* Lock first, then claim: the server trusts a non-free state only
		 * while its lock is held. */
		int rc = lock_try(fd, slot_lock_byte(i));
		if (rc == -EAGAIN)
			continue;
		if (rc < 0)
			return rc;
		struct slot_ctl *ctl = slot_ctl(c->seg.base, &c->g, i);
		uint32_t expect = SLOT_FREE;
		/* Pairs with the server's store_release of FREE in slot_reset:
		 * the reset of the rings is visible once we own the slot. */
		if (atomic_compare_exchange_strong_explicit(&ctl->state, &expect, SLOT_CLAIMED,
							    memory_order_acq_rel,
							    memory_order_relaxed)) {
			c->slot = i;
			c->ctl = ctl;
			return 0;
		}
		lock_drop(fd, slot_lock_byte(i));
	}
	return -EUSERS;
}

/* Fault in our rings' pages now rather than on the first messages. */
static void prefault(const void *p, size_t len)
{
	const volatile unsigned char *b = p;
	for (size_t off = 0; off < len; off += SHMQ_PAGE)
		(void)b[off];
}

int shmq_client_connect(shmq_client **out, const shmq_config *cfg)
{
	if (!out || !cfg)
		return -EINVAL;
	*out = NULL;
	if ((cfg->mode & ~0777u) || (cfg->mode & 0600u) != 0600u)
		return -EINVAL;
	shmq_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->spin_us = cfg->spin_us;
	int rc = seg_address(&c->seg, cfg);
	if (rc < 0)
		goto fail;
	if ((rc = seg_attach(&c->seg, cfg->mode, 0)) < 0)
		goto fail;
	c->hdr = c->seg.base;
	if ((rc = seg_validate(c->seg.base, c->seg.size, &c->g)) < 0) {
		/* Under a live server, still starting (or corrupt, once
		 * published); under a dead one, it died while starting. */
		if (rc == -EPROTO)
			rc = seg_invalid_header(&c->seg);
		goto fail_detach;
	}
	if (load_acquire(&c->hdr->state) != EP_READY || lock_held(c->seg.lock_fd, 0) != 1) {
		rc = -ECONNREFUSED; /* stale: its server is gone */
		goto fail_detach;
	}
	if ((rc = claim_slot(c)) < 0)
		goto fail_detach;

	c->gen = load_relaxed(&c->ctl->gen);
	store_relaxed(&c->ctl->pid, (int32_t)getpid());
	store_relaxed(&c->ctl->uid, (uint32_t)geteuid());
	store_relaxed(&c->ctl->cli_ev.never_sleeps, c->spin_us == SHMQ_SPIN_FOREVER);
	ring_init(&c->req, &c->ctl->req, slot_req_data(c->ctl), c->g.ring_size, 0);
	ring_init(&c->rep, &c->ctl->rep, slot_rep_data(c->ctl, &c->g), c->g.ring_size, 0);
	prefault(slot_req_data(c->ctl), 2ull * c->g.ring_size);
	/* Pairs with the server's load_acquire of state in rescan: it sees
	 * our pid and uid. */
	store_release(&c->ctl->state, SLOT_CONNECTED);
	/* Pairs with the server's load_acquire of conn_seq in rescan. */
	atomic_fetch_add_explicit(&c->hdr->conn_seq, 1, memory_order_release);
	event_signal(&c->hdr->srv_ev);
	*out = c;
	return 0;

fail_detach:
	seg_detach(&c->seg);
fail:
	free(c);
	return rc;
}

int shmq_client_close(shmq_client *c)
{
	if (!c)
		return -EINVAL;
	uint32_t expect = SLOT_CONNECTED;
	/* Pairs with the server's load_acquire of state: everything we
	 * published before leaving is still served. */
	atomic_compare_exchange_strong_explicit(&c->ctl->state, &expect, SLOT_LEAVING,
						memory_order_release, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->hdr->conn_seq, 1, memory_order_release);
	event_signal(&c->hdr->srv_ev);
	lock_drop(c->seg.lock_fd, slot_lock_byte(c->slot));
	seg_detach(&c->seg);
	free(c);
	return 0;
}

int shmq_client_check(shmq_client *c)
{
	return c ? check_client(c) : -EINVAL;
}

size_t shmq_client_max_msg(const shmq_client *c)
{
	return c ? ring_max_payload(c->g.ring_size) : 0;
}

shmq_client_id shmq_client_self(const shmq_client *c)
{
	return c ? (shmq_client_id){ .slot = c->slot, .gen = c->gen } : (shmq_client_id){ 0, 0 };
}

/* ---- send --------------------------------------------------------------- */

struct send_ctx {
	shmq_client *c;
	uint32_t len;
	void *payload;
};

static int poll_send(void *arg)
{
	struct send_ctx *ctx = arg;
	shmq_client *c = ctx->c;
	int rc = ring_reserve(&c->req, ctx->len, &ctx->payload);
	if (rc == -EPROTO)
		c->broken = -EPROTO;
	/* Full: hand back the replies we consumed before we wait, the server
	 * may be blocked sending us more. */
	if (rc == -EAGAIN && ring_flush(&c->rep))
		event_signal(&c->hdr->srv_ev);
	return rc;
}

static int check_send(void *arg)
{
	return check_client(((struct send_ctx *)arg)->c);
}

static int reserve(shmq_client *c, size_t len, void **buf, uint64_t deadline)
{
	if (c->resv_open)
		return -EBUSY;
	int rc = server_state(c);
	if (rc)
		return rc;
	if (len > c->req.max_payload)
		return -EMSGSIZE;
	struct send_ctx ctx = { c, (uint32_t)len, NULL };
	/* We sleep on our own doorbell; the server rings it when it frees room. */
	rc = shmq__wait(&c->ctl->cli_ev, poll_send, check_send, &ctx, c->spin_us, deadline);
	if (rc < 0)
		return rc;
	c->resv_open = 1;
	*buf = ctx.payload;
	return 0;
}

int shmq_client_reserve(shmq_client *c, size_t len, void **buf, int timeout_ms)
{
	if (!c || !buf)
		return -EINVAL;
	return reserve(c, len, buf, shmq__deadline(timeout_ms));
}

int shmq_client_commit(shmq_client *c, size_t len, uint32_t flags)
{
	if (!c || !c->resv_open || (flags & ~(uint32_t)SHMQ_MSG_REQUEST))
		return -EINVAL;
	if (len > c->req.resv_cap)
		return -EMSGSIZE;
	c->resv_open = 0;
	ring_commit(&c->req, (uint32_t)len, flags);
	event_signal(&c->hdr->srv_ev);
	return 0;
}

int shmq_client_abort(shmq_client *c)
{
	if (!c || !c->resv_open)
		return -EINVAL;
	ring_abort(&c->req);
	c->resv_open = 0;
	return 0;
}

static int send_flags(shmq_client *c, const void *buf, size_t len, uint32_t flags,
		      uint64_t deadline)
{
	void *p = NULL;
	int rc = reserve(c, len, &p, deadline);
	if (rc < 0)
		return rc;
	if (len && p)
		memcpy(p, buf, len);
	return shmq_client_commit(c, len, flags);
}

int shmq_client_send(shmq_client *c, const void *buf, size_t len, int timeout_ms)
{
	if (!c || (!buf && len))
		return -EINVAL;
	return send_flags(c, buf, len, 0, shmq__deadline(timeout_ms));
}

/* ---- receive ------------------------------------------------------------ */

struct recv_ctx {
	shmq_client *c;
	struct ring_view v;
};

static int poll_recv(void *arg)
{
	struct recv_ctx *ctx = arg;
	shmq_client *c = ctx->c;
	int rc = ring_peek(&c->rep, &ctx->v);
	if (rc == 0)
		return 0;
	if (rc == -EPROTO)
		return c->broken = -EPROTO;
	/* Empty: hand back the space we consumed (the server may wait for it),
	 * then see whether the server has closed. */
	if (ring_flush(&c->rep))
		event_signal(&c->hdr->srv_ev);
	rc = server_state(c);
	if (rc == 0)
		return -EAGAIN;
	/* Gone: but the server may have published a last message between our
	 * peek and its close. The close is a release store after that
	 * publication and server_state an acquire load, so one more peek
	 * sees it. */
	return ring_peek(&c->rep, &ctx->v) == 0 ? 0 : rc;
}

static int check_recv(void *arg)
{
	return check_client(((struct recv_ctx *)arg)->c);
}

static int recv_view(shmq_client *c, shmq_msg *msg, uint64_t deadline)
{
	if (c->view_open)
		return -EBUSY;
	struct recv_ctx ctx = { .c = c };
	/* Replies already queued are delivered even if the server has gone
	 * since: poll before looking at the server. */
	int rc = shmq__wait(&c->ctl->cli_ev, poll_recv, check_recv, &ctx, c->spin_us,
			    deadline);
	if (rc < 0)
		return rc;
	c->view_open = 1;
	*msg = (shmq_msg){ .data = ctx.v.data, .len = ctx.v.len, .flags = ctx.v.flags };
	return 0;
}

int shmq_client_recv_view(shmq_client *c, shmq_msg *msg, int timeout_ms)
{
	if (!c || !msg)
		return -EINVAL;
	return recv_view(c, msg, shmq__deadline(timeout_ms));
}

int shmq_client_release(shmq_client *c, shmq_msg *msg)
{
	if (!c || !c->view_open)
		return -EINVAL;
	c->view_open = 0;
	/* The server may be waiting for room in our reply ring. */
	if (ring_release(&c->rep))
		event_signal(&c->hdr->srv_ev);
	if (msg)
		msg->data = NULL;
	return 0;
}

static ssize_t recv_copy(shmq_client *c, void *buf, size_t cap, uint64_t deadline)
{
	shmq_msg m;
	int rc = recv_view(c, &m, deadline);
	if (rc < 0)
		return rc;
	if (m.len > cap) {
		c->view_open = 0; /* leave it queued */
		return -EMSGSIZE;
	}
	if (m.len)
		memcpy(buf, m.data, m.len);
	shmq_client_release(c, &m);
	return (ssize_t)m.len;
}

ssize_t shmq_client_recv(shmq_client *c, void *buf, size_t cap, int timeout_ms)
{
	if (!c || (!buf && cap))
		return -EINVAL;
	return recv_copy(c, buf, cap, shmq__deadline(timeout_ms));
}

ssize_t shmq_client_request(shmq_client *c, const void *req, size_t len, void *rep,
			    size_t cap, int timeout_ms)
{
	if (!c || (!req && len) || (!rep && cap))
		return -EINVAL;
	if (c->view_open)
		return -EBUSY; /* before sending: the reply could not be taken */
	uint64_t deadline = shmq__deadline_now(timeout_ms); /* covers both halves */
	int rc = send_flags(c, req, len, SHMQ_MSG_REQUEST, deadline);
	if (rc < 0)
		return rc;
	/* A non-blocking request still waits for nothing: the reply may not
	 * be there yet, and the caller collects it with shmq_client_recv. */
	return recv_copy(c, rep, cap, deadline);
}
