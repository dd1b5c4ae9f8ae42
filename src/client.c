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

/* A message taken out of the reply ring ahead of the call that wants it,
 * copied into private memory: a reply to another outstanding request, or a
 * message of the server's own met while waiting for a reply. */
struct held {
	struct held *next;
	uint64_t id;
	uint32_t len;
	uint32_t type; /* REC_REPLY or 0 */
	unsigned char data[];
};

struct held_q {
	struct held *head;
	struct held **tail;
};

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
	int resv_open;
	int broken; /* sticky error once the server is gone or misbehaved */
	struct sleeper sleeper;

	/* The view handed out: from the ring (view_held NULL) or held. */
	int view_open;
	uint32_t view_type;
	uint64_t view_id;
	struct held *view_held;
	struct held_q *view_q;

	/* Requests sent and not yet answered, ascending (ids only grow). */
	uint64_t next_id;
	uint64_t *inflight;
	uint32_t ninflight, inflight_cap;

	struct held_q replies, pushes;
	size_t held_bytes, held_max;
	shmq_client_stats st;
};

/* ---- requests in flight ------------------------------------------------- */

/* Index of the first id >= id. */
static uint32_t inflight_at(const shmq_client *c, uint64_t id)
{
	uint32_t lo = 0, hi = c->ninflight;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (c->inflight[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int inflight_has(const shmq_client *c, uint64_t id)
{
	uint32_t at = inflight_at(c, id);
	return at < c->ninflight && c->inflight[at] == id;
}

static int inflight_del(shmq_client *c, uint64_t id)
{
	uint32_t at = inflight_at(c, id);
	if (at >= c->ninflight || c->inflight[at] != id)
		return 0;
	memmove(&c->inflight[at], &c->inflight[at + 1],
		(c->ninflight - at - 1) * sizeof(c->inflight[0]));
	c->ninflight--;
	return 1;
}

/* Room for one more: 0, -ENOBUFS at SHMQ_MAX_INFLIGHT, -ENOMEM. */
static int inflight_room(shmq_client *c)
{
	if (c->ninflight < c->inflight_cap)
		return 0;
	if (c->inflight_cap >= SHMQ_MAX_INFLIGHT)
		return -ENOBUFS;
	uint32_t cap = c->inflight_cap ? 2 * c->inflight_cap : 16;
	uint64_t *p = realloc(c->inflight, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->inflight = p;
	c->inflight_cap = cap;
	return 0;
}

/* ---- messages held aside ------------------------------------------------ */

static void held_init(struct held_q *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

/* Copy the ring's current record into q (at its front if front: then past
 * the limit too, by one message at most). */
static int hold(shmq_client *c, struct held_q *q, const struct ring_view *v, int front)
{
	size_t cost = sizeof(struct held) + v->len; /* empty messages count too */
	if (!front && c->held_bytes + cost > c->held_max)
		return -ENOBUFS;
	struct held *h = malloc(sizeof(*h) + v->len);
	if (!h)
		return -ENOMEM;
	*h = (struct held){ .id = v->id, .len = v->len, .type = v->type };
	if (v->len)
		memcpy(h->data, v->data, v->len);
	if (front) {
		h->next = q->head;
		if (!q->head)
			q->tail = &h->next;
		q->head = h;
	} else {
		*q->tail = h;
		q->tail = &h->next;
	}
	c->held_bytes += cost;
	c->st.held++;
	return 0;
}

/* Where the first message of q that answers id (or any) hangs, or NULL. */
static struct held **held_find(struct held_q *q, uint64_t id)
{
	for (struct held **l = &q->head; *l; l = &(*l)->next)
		if (id == SHMQ_ANY_REQUEST || (*l)->id == id)
			return l;
	return NULL;
}

static void held_free(shmq_client *c, struct held_q *q, struct held **link)
{
	struct held *h = *link;
	*link = h->next;
	if (!h->next)
		q->tail = link;
	c->held_bytes -= sizeof(*h) + h->len;
	c->st.held--;
	free(h);
}

static void held_clear(shmq_client *c, struct held_q *q)
{
	while (q->head)
		held_free(c, q, &q->head);
}

/* ---- state -------------------------------------------------------------- */

/* Is the server still there, and still ours? `sending`: and does it take
 * new messages (not once it is shutting down)? Read from our own slot, which
 * no other client can write. */
static int server_state(shmq_client *c, int sending)
{
	if (c->broken)
		return c->broken;
	uint32_t st = load_acquire(&c->ctl->state);
	if (st == SLOT_BANNED)
		return c->broken = -ECONNRESET;
	if (st != SLOT_CONNECTED)
		return c->broken = -EPROTO;
	/* Pairs with the server's store_release in tell_clients: after it we
	 * see the request-ring index it published before. */
	uint32_t ep = load_acquire(&c->ctl->srv.state);
	switch (ep) {
	case EP_READY:
		return 0;
	case EP_DRAINING:
		return sending ? -EPIPE : 0;
	case EP_CLOSED:
		return c->broken = -EPIPE;
	default:
		return c->broken = -EPROTO;
	}
}

static int check_client(void *arg)
{
	shmq_client *c = arg;
	int rc = server_state(c, 0);
	if (rc)
		return rc;
	/* The kernel drops the server's lock when it dies, whatever happened
	 * to its pid. */
	if (lock_held(c->seg.lock_fd, 0) != 1)
		return c->broken = -EPIPE;
	return 0;
}

/* We consumed from the reply ring: the server may wait for that room. */
static void give_back(shmq_client *c, int published)
{
	if (published)
		server_signal(&c->ctl->srv, &c->hdr->srv_seq);
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
			/* FREE, but written by a client rather than by a reset if
			 * the server still holds the gate: not ours to take. */
			if (lock_held(fd, slot_gate_byte(i)) == 0) {
				c->slot = i;
				c->ctl = ctl;
				return 0;
			}
			store_release(&ctl->state, SLOT_FREE);
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
	held_init(&c->replies);
	held_init(&c->pushes);
	c->next_id = 1;
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
	/* Stale (its server is gone), or shutting down: no new clients. */
	uint32_t ep = load_acquire(&c->hdr->state);
	int live = lock_held(c->seg.lock_fd, 0) == 1;
	if (ep != EP_READY || !live) {
		rc = live && ep == EP_DRAINING ? -ESHUTDOWN : -ECONNREFUSED;
		goto fail_detach;
	}
	if ((rc = claim_slot(c)) < 0)
		goto fail_detach;

	c->held_max = (size_t)16 * c->g.ring_size;
	c->gen = load_relaxed(&c->ctl->gen);
	store_relaxed(&c->ctl->pid, (int32_t)getpid());
	store_relaxed(&c->ctl->uid, (uint32_t)geteuid());
	store_relaxed(&c->ctl->cli_ev.never_sleeps, c->spin_us == SHMQ_SPIN_FOREVER);
	/* A claimer that left before the server ever served it may have left
	 * records behind: neither ring may hold any for us. (The server starts
	 * serving the slot only after our CONNECTED below.) */
	ring_format(slot_req_data(c->ctl), c->g.ring_size, 0);
	ring_format(slot_rep_data(c->ctl, &c->g), c->g.ring_size, 0);
	ring_init(&c->req, &c->ctl->req, slot_req_data(c->ctl), c->g.ring_size, 0);
	ring_init(&c->rep, &c->ctl->rep, slot_rep_data(c->ctl, &c->g), c->g.ring_size, 0);
	c->sleeper = event_sleeper(&c->ctl->cli_ev);
	prefault(slot_req_data(c->ctl), 2ull * c->g.ring_size);
	/* Pairs with the server's load_acquire of state in rescan: it sees
	 * our pid and uid. */
	store_release(&c->ctl->state, SLOT_CONNECTED);
	/* Pairs with the server's load_acquire of conn_seq in rescan. */
	atomic_fetch_add_explicit(&c->hdr->conn_seq, 1, memory_order_release);
	server_ring(&c->hdr->srv_seq);
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
	server_ring(&c->hdr->srv_seq);
	lock_drop(c->seg.lock_fd, slot_lock_byte(c->slot));
	seg_detach(&c->seg);
	held_clear(c, &c->replies);
	held_clear(c, &c->pushes);
	free(c->inflight);
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

int shmq_client_stat(const shmq_client *c, shmq_client_stats *out)
{
	if (!c || !out)
		return -EINVAL;
	*out = c->st;
	out->inflight = c->ninflight;
	return 0;
}

/* ---- flush -------------------------------------------------------------- */

static int poll_flush(void *arg)
{
	shmq_client *c = arg;
	/* The server may be blocked sending us replies, and so not reading
	 * our requests: hand back the reply room we have. */
	give_back(c, ring_flush(&c->rep));
	int rc = ring_drained(&c->req);
	if (rc != 0)
		return rc < 0 ? (c->broken = rc) : 0;
	rc = server_state(c, 0);
	if (rc == 0)
		return -EAGAIN;
	/* Closed: the server published its last cons before that state
	 * (tell_clients), and we read the state with acquire: one more look
	 * tells exactly whether it took everything. */
	return ring_drained(&c->req) == 1 ? 0 : rc;
}

int shmq_client_flush(shmq_client *c, int timeout_ms)
{
	if (!c)
		return -EINVAL;
	return shmq__wait(&c->sleeper, poll_flush, check_client, c, c->spin_us,
			  shmq__deadline(timeout_ms));
}

/* ---- send --------------------------------------------------------------- */

struct send_ctx {
	shmq_client *c;
	uint32_t len;
	uint32_t type;
	void *payload;
};

static int poll_send(void *arg)
{
	struct send_ctx *ctx = arg;
	shmq_client *c = ctx->c;
	int rc = ring_reserve(&c->req, ctx->len, ctx->type, &ctx->payload);
	if (rc == -EPROTO)
		c->broken = -EPROTO;
	/* Full: hand back the replies we consumed before we wait, the server
	 * may be blocked sending us more. */
	if (rc == -EAGAIN) {
		give_back(c, ring_flush(&c->rep));
		/* And stop waiting for room once the server stops taking. */
		int st = server_state(c, 1);
		if (st)
			return st;
	}
	return rc;
}

static int check_send(void *arg)
{
	return check_client(((struct send_ctx *)arg)->c);
}

/* On the path of every message: inlined into the send calls. */
static inline __attribute__((always_inline)) int reserve(shmq_client *c, size_t len, uint32_t type,
							 void **buf, uint64_t deadline)
{
	if (c->resv_open)
		return -EBUSY;
	int rc = server_state(c, 1);
	if (rc)
		return rc;
	if (len > c->req.max_payload)
		return -EMSGSIZE;
	if (type == REC_REQUEST && (rc = inflight_room(c)) < 0)
		return rc;
	struct send_ctx ctx = { c, (uint32_t)len, type, NULL };
	/* We sleep on our own doorbell; the server rings it when it frees room. */
	rc = shmq__wait(&c->sleeper, poll_send, check_send, &ctx, c->spin_us, deadline);
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
	return reserve(c, len, 0, buf, shmq__deadline(timeout_ms));
}

int shmq_client_reserve_request(shmq_client *c, size_t len, void **buf, int timeout_ms)
{
	if (!c || !buf)
		return -EINVAL;
	return reserve(c, len, REC_REQUEST, buf, shmq__deadline(timeout_ms));
}

int shmq_client_commit(shmq_client *c, size_t len, uint64_t *id)
{
	if (!c || !c->resv_open)
		return -EINVAL;
	if (len > c->req.resv_cap)
		return -EMSGSIZE;
	uint64_t rid = 0;
	if (c->req.resv_type == REC_REQUEST) {
		/* reserve made room in inflight[] for this one. */
		rid = c->next_id++;
		c->inflight[c->ninflight++] = rid;
	}
	c->resv_open = 0;
	ring_commit(&c->req, (uint32_t)len, rid);
	c->st.msgs_out++;
	server_signal(&c->ctl->srv, &c->hdr->srv_seq);
	if (id)
		*id = rid;
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

static int send_copy(shmq_client *c, const void *buf, size_t len, uint32_t type, uint64_t *id,
		     uint64_t deadline)
{
	void *p = NULL;
	int rc = reserve(c, len, type, &p, deadline);
	if (rc < 0)
		return rc;
	if (len && p)
		memcpy(p, buf, len);
	return shmq_client_commit(c, len, id);
}

int shmq_client_send(shmq_client *c, const void *buf, size_t len, int timeout_ms)
{
	if (!c || (!buf && len))
		return -EINVAL;
	return send_copy(c, buf, len, 0, NULL, shmq__deadline(timeout_ms));
}

int shmq_client_send_request(shmq_client *c, const void *req, size_t len, uint64_t *id,
			     int timeout_ms)
{
	if (!c || (!req && len) || !id)
		return -EINVAL;
	return send_copy(c, req, len, REC_REQUEST, id, shmq__deadline(timeout_ms));
}

/* ---- receive ------------------------------------------------------------ */

struct recv_ctx {
	shmq_client *c;
	int want_reply; /* 0: a message of the server's own */
	uint64_t id;    /* want_reply: which, or SHMQ_ANY_REQUEST */
	struct ring_view v;
	struct held **link; /* the message found, if held; else v */
	struct held_q *q;
};

/* One pass: what we want from what is held, else from the ring, holding
 * aside or discarding what comes first. 0, -EAGAIN (ring empty), error. */
static int take(struct recv_ctx *ctx)
{
	shmq_client *c = ctx->c;
	ctx->q = ctx->want_reply ? &c->replies : &c->pushes;
	if ((ctx->link = held_find(ctx->q, ctx->want_reply ? ctx->id : SHMQ_ANY_REQUEST)))
		return 0;
	for (;;) {
		struct ring_view *v = &ctx->v;
		int rc = ring_peek(&c->rep, v);
		if (rc == -EPROTO || (rc == 0 && v->type == REC_REQUEST))
			return c->broken = -EPROTO;
		if (rc < 0)
			return rc;
		int wanted = ctx->want_reply ? v->type == REC_REPLY &&
							  (ctx->id == SHMQ_ANY_REQUEST || ctx->id == v->id)
					     : v->type == 0;
		if (v->type == REC_REPLY && !inflight_has(c, v->id)) {
			/* Its request was abandoned (or never made). */
			c->st.late_replies++;
			store_relaxed(&c->ctl->late_replies, c->st.late_replies);
		} else if (wanted) {
			return 0;
		} else {
			/* Wanted by another call: copy it aside. */
			struct held_q *q = v->type == REC_REPLY ? &c->replies : &c->pushes;
			if ((rc = hold(c, q, v, 0)) < 0)
				return rc;
			if (v->type == REC_REPLY)
				inflight_del(c, v->id);
		}
		give_back(c, ring_release(&c->rep));
	}
}

static int poll_recv(void *arg)
{
	struct recv_ctx *ctx = arg;
	shmq_client *c = ctx->c;
	int rc = take(ctx);
	if (rc != -EAGAIN)
		return rc;
	/* Empty: hand back the space we consumed (the server may wait for it),
	 * then see whether the server has closed. */
	give_back(c, ring_flush(&c->rep));
	rc = server_state(c, 0);
	if (rc == 0)
		return -EAGAIN;
	/* Gone: but the server may have published a last message between our
	 * peek and its close. The close is a release store after that
	 * publication and server_state an acquire load, so one more look
	 * sees it. */
	return take(ctx) == 0 ? 0 : rc;
}

static int check_recv(void *arg)
{
	return check_client(((struct recv_ctx *)arg)->c);
}

static int recv_view(shmq_client *c, int want_reply, uint64_t id, shmq_msg *msg,
		     uint64_t deadline)
{
	if (c->view_open)
		return -EBUSY;
	if (want_reply && !inflight_has(c, id) && !held_find(&c->replies, id) &&
	    (id != SHMQ_ANY_REQUEST || c->ninflight == 0))
		return -ENOENT;
	struct recv_ctx ctx = { .c = c, .want_reply = want_reply, .id = id };
	/* Messages already queued are delivered even if the server has gone
	 * since: poll before looking at the server. */
	int rc = shmq__wait(&c->sleeper, poll_recv, check_recv, &ctx, c->spin_us, deadline);
	if (rc < 0)
		return rc;
	c->view_open = 1;
	c->view_held = ctx.link ? *ctx.link : NULL;
	c->view_q = ctx.q;
	if (ctx.link) {
		struct held *h = *ctx.link;
		c->view_type = h->type;
		c->view_id = h->id;
		*msg = (shmq_msg){ .data = h->data, .len = h->len };
	} else {
		c->view_type = ctx.v.type;
		c->view_id = ctx.v.id;
		*msg = (shmq_msg){ .data = ctx.v.data, .len = ctx.v.len };
	}
	if (c->view_type == REC_REPLY) {
		msg->flags = SHMQ_MSG_REPLY;
		msg->id = c->view_id;
	}
	return 0;
}

int shmq_client_recv_view(shmq_client *c, shmq_msg *msg, int timeout_ms)
{
	if (!c || !msg)
		return -EINVAL;
	return recv_view(c, 0, 0, msg, shmq__deadline(timeout_ms));
}

int shmq_client_recv_reply_view(shmq_client *c, uint64_t id, shmq_msg *msg, int timeout_ms)
{
	if (!c || !msg)
		return -EINVAL;
	return recv_view(c, 1, id, msg, shmq__deadline(timeout_ms));
}

int shmq_client_release(shmq_client *c, shmq_msg *msg)
{
	if (!c || !c->view_open)
		return -EINVAL;
	c->view_open = 0;
	c->st.msgs_in++;
	if (c->view_held) {
		/* Found again, not remembered: a cancel meanwhile may have
		 * freed the message in front of it. */
		struct held **l = &c->view_q->head;
		while (*l != c->view_held)
			l = &(*l)->next;
		held_free(c, c->view_q, l);
		c->view_held = NULL;
	} else {
		if (c->view_type == REC_REPLY)
			inflight_del(c, c->view_id);
		/* The server may be waiting for room in our reply ring. */
		give_back(c, ring_release(&c->rep));
	}
	if (msg)
		msg->data = NULL;
	return 0;
}

static ssize_t recv_copy(shmq_client *c, int want_reply, uint64_t id, void *buf, size_t cap,
			 shmq_msg *msg, uint64_t deadline)
{
	shmq_msg m;
	if (!msg)
		msg = &m;
	int rc = recv_view(c, want_reply, id, msg, deadline);
	if (rc < 0)
		return rc;
	if (msg->len > cap) {
		c->view_open = 0; /* leave it where it is, still wanted */
		msg->data = NULL;
		return -EMSGSIZE;
	}
	if (msg->len)
		memcpy(buf, msg->data, msg->len);
	size_t len = msg->len;
	shmq_client_release(c, msg);
	return (ssize_t)len;
}

ssize_t shmq_client_recv(shmq_client *c, void *buf, size_t cap, int timeout_ms)
{
	if (!c || (!buf && cap))
		return -EINVAL;
	return recv_copy(c, 0, 0, buf, cap, NULL, shmq__deadline(timeout_ms));
}

ssize_t shmq_client_recv_reply(shmq_client *c, uint64_t id, void *buf, size_t cap,
			       shmq_msg *msg, int timeout_ms)
{
	if (!c || (!buf && cap))
		return -EINVAL;
	return recv_copy(c, 1, id, buf, cap, msg, shmq__deadline(timeout_ms));
}

int shmq_client_cancel(shmq_client *c, uint64_t id)
{
	if (!c || id == SHMQ_ANY_REQUEST)
		return -EINVAL;
	if (c->view_open && c->view_type == REC_REPLY && c->view_id == id)
		return -EBUSY;
	if (inflight_del(c, id))
		return 0;
	struct held **l = held_find(&c->replies, id);
	if (!l)
		return -ENOENT;
	/* It had come already: it counts as late, like one that comes later. */
	held_free(c, &c->replies, l);
	c->st.late_replies++;
	store_relaxed(&c->ctl->late_replies, c->st.late_replies);
	return 0;
}

/* The reply to id was too large for the caller's buffer: make it the first
 * that shmq_client_recv_reply(SHMQ_ANY_REQUEST) returns. */
static int keep_first(shmq_client *c, uint64_t id)
{
	struct held **l = held_find(&c->replies, id);
	if (l) {
		struct held *h = *l;
		*l = h->next;
		if (!h->next)
			c->replies.tail = l;
		h->next = c->replies.head;
		if (!c->replies.head)
			c->replies.tail = &h->next;
		c->replies.head = h;
		return 0;
	}
	/* Still the record at the head of the ring: held replies would come
	 * before it, so hold it too, in front of them. */
	struct ring_view v;
	if (ring_peek(&c->rep, &v) < 0 || v.type != REC_REPLY || v.id != id)
		return 0;
	int rc = hold(c, &c->replies, &v, 1);
	if (rc < 0)
		return rc; /* -ENOMEM: it stays in the ring */
	inflight_del(c, id);
	give_back(c, ring_release(&c->rep));
	return 0;
}

ssize_t shmq_client_request(shmq_client *c, const void *req, size_t len, void *rep,
			    size_t cap, int timeout_ms)
{
	if (!c || (!req && len) || (!rep && cap))
		return -EINVAL;
	if (c->view_open)
		return -EBUSY; /* before sending: the reply could not be taken */
	uint64_t deadline = shmq__deadline_now(timeout_ms); /* covers both halves */
	uint64_t id;
	int rc = send_copy(c, req, len, REC_REQUEST, &id, deadline);
	if (rc < 0)
		return rc; /* nothing was sent */
	ssize_t n = recv_copy(c, 1, id, rep, cap, NULL, deadline);
	if (n >= 0)
		return n;
	if (n == -EMSGSIZE) {
		keep_first(c, id);
		return n;
	}
	/* The caller has no id to collect it with: abandon it. */
	shmq_client_cancel(c, id);
	/* A broken connection says so; anything else (timeout, signal, no room
	 * to hold what came first) must not read as "nothing was sent". */
	if (n == -EPIPE || n == -ECONNRESET || n == -EPROTO)
		return n;
	return -EINPROGRESS;
}
