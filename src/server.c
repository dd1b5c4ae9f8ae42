/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "atomics.h"
#include "internal.h"
#include "ring.h"
#include "shmq.h"
#include "wait.h"

/* The server's private state of a slot. The shared slot_ctl.state is only a
 * hint from the client; this is what the server acts on. */
enum { PS_FREE, PS_ACTIVE, PS_DRAINING, PS_BANNED };

struct srv_slot {
	struct slot_ctl *ctl;
	struct ring req; /* we consume */
	struct ring rep; /* we produce */
	uint32_t gen;
	uint32_t state;
	pid_t pid;
	uid_t uid;
	uint64_t msgs_in, msgs_out;
	/* While shutting down: receive up to this request-ring position (what
	 * the client had committed when shmq_server_shutdown was called). */
	uint64_t drain_to;
};

struct shmq_server {
	struct seg seg;
	struct seg_header *hdr;
	struct geometry g;
	uint32_t spin_us;
	uint32_t ep_state; /* EP_READY or EP_DRAINING: ours, never read back */
	int drained;       /* shutting down, and everything owed was received */
	struct srv_slot *slots;
	uint32_t *active; /* slots being served: ACTIVE or DRAINING */
	uint32_t nactive;
	uint32_t rr;       /* round-robin cursor into active[] */
	uint32_t conn_seen;
	uint32_t polls;
	int armed;         /* about to sleep: the clients' srv.waiting flags are set */
	uint64_t next_check_ns;
	uint64_t next_rescan_ns;
	pid_t pid;
	uint64_t epoch;
	uint64_t rescan_at; /* a rescan put off: sleep no later than this */
	int view_slot; /* slot of the view handed out, -1 if none */
	int retry_slot; /* slot whose message did not fit the caller's buffer */
	int resv_slot; /* slot of the open reservation, -1 if none */
	uint64_t resv_id; /* the reply's id, with a REC_REPLY reservation */
	struct sleeper sleeper;
};

static void srv_arm(void *arg, uint32_t on);
static void header_write(shmq_server *s);

#define CHECK_INTERVAL_NS (SHMQ_WAIT_SLICE_MS * 1000000ull)
/* A client may bump conn_seq as often as it likes; we rescan every slot at
 * most this often for it (and always before we sleep). */
#define RESCAN_GAP_NS 1000000ull

/* The application holds a view or a reservation into slot i: it must not be
 * reset (and so reused) until that is released. */
static int pinned(const shmq_server *s, uint32_t i)
{
	return s->view_slot == (int)i || s->resv_slot == (int)i;
}

/* ---- slot life cycle ---------------------------------------------------- */

static void active_add(shmq_server *s, uint32_t i)
{
	s->active[s->nactive++] = i;
}

static void active_del(shmq_server *s, uint32_t i)
{
	for (uint32_t k = 0; k < s->nactive; k++) {
		if (s->active[k] == i) {
			s->active[k] = s->active[--s->nactive];
			if (s->rr >= s->nactive)
				s->rr = 0;
			return;
		}
	}
}

/* Make slot i claimable again, under a new generation. Never while pinned. */
static void slot_reset(shmq_server *s, uint32_t i)
{
	struct srv_slot *sl = &s->slots[i];
	struct slot_ctl *c = sl->ctl;
	sl->gen++;
	sl->state = PS_FREE;
	sl->msgs_in = sl->msgs_out = 0;
	sl->drain_to = 0;
	store_relaxed(&c->req.prod, 0);
	store_relaxed(&c->req.cons, 0);
	store_relaxed(&c->rep.prod, 0);
	store_relaxed(&c->rep.cons, 0);
	store_relaxed(&c->msgs_in, 0);
	store_relaxed(&c->msgs_out, 0);
	store_relaxed(&c->late_replies, 0);
	store_relaxed(&c->pid, 0);
	store_relaxed(&c->uid, 0);
	store_relaxed(&c->cli_ev.waiting, 0);
	store_relaxed(&c->cli_ev.never_sleeps, 0);
	/* Ours: rewritten whatever the last client left there. */
	store_relaxed(&c->srv.state, s->ep_state);
	store_relaxed(&c->srv.waiting, 0);
	store_relaxed(&c->srv.never_sleeps, s->spin_us == SHMQ_SPIN_FOREVER);
	ring_format(slot_req_data(c), s->g.ring_size, 0);
	ring_format(slot_rep_data(c, &s->g), s->g.ring_size, 0);
	store_relaxed(&c->gen, sl->gen);
	/* Pairs with the client's acquire CAS on state in claim_slot: a client
	 * that claims the slot sees it reset. */
	store_release(&c->state, SLOT_FREE);
	/* Only now may a claimer have it (the client checks the gate after
	 * its CAS, so it sees FREE written before the gate opened). */
	lock_drop(s->seg.lock_fd, slot_gate_byte(i));
}

static void slot_activate(shmq_server *s, uint32_t i)
{
	struct srv_slot *sl = &s->slots[i];
	uint32_t r = s->g.ring_size;
	/* Closed to claimers until slot_reset. If a hostile process holds the
	 * byte itself, the slot is merely unclaimable for others: no worse
	 * than its holding the slot's own lock. */
	lock_try(s->seg.lock_fd, slot_gate_byte(i));
	/* Both sides start their rings at 0 after a reset; we use our own
	 * zero, not what is in the segment now. */
	ring_init(&sl->req, &sl->ctl->req, slot_req_data(sl->ctl), r, 0);
	ring_init(&sl->rep, &sl->ctl->rep, slot_rep_data(sl->ctl, &s->g), r, 0);
	sl->pid = load_relaxed(&sl->ctl->pid);
	sl->uid = load_relaxed(&sl->ctl->uid);
	sl->state = PS_ACTIVE;
	/* Shutting down: a client that connected after the decision has
	 * nothing owed to it. */
	sl->drain_to = 0;
	active_add(s, i);
	if (s->armed) {
		/* We are about to sleep: this client must know it too. Pairs
		 * with the client's smp_mb in server_signal (Dekker): our poll
		 * of its ring comes after this store. */
		store_relaxed(&sl->ctl->srv.waiting, 1);
		smp_mb();
	}
}

/* The client broke the protocol: stop serving it. Its slot is reset only
 * once it has let go of its lock, so it cannot scribble on a successor, and
 * once the application let go of any view or reservation into it. */
static void slot_ban(shmq_server *s, uint32_t i)
{
	struct srv_slot *sl = &s->slots[i];
	if (sl->state == PS_ACTIVE || sl->state == PS_DRAINING)
		active_del(s, i);
	sl->state = PS_BANNED;
	store_release(&sl->ctl->state, SLOT_BANNED);
	event_signal(&sl->ctl->cli_ev);
}

/* The client left or died: serve what it already sent, then free the slot. */
static void slot_drain(shmq_server *s, uint32_t i)
{
	if (s->slots[i].state == PS_ACTIVE)
		s->slots[i].state = PS_DRAINING;
}

/* A drained slot whose client has left: reuse it, unless the application
 * still holds a reservation into it (then the next look retires it). */
static int slot_retire(shmq_server *s, uint32_t i)
{
	if (pinned(s, i))
		return 0;
	active_del(s, i);
	slot_reset(s, i);
	return 1;
}

/* A client connected or left: reconcile every slot with its shared state. */
static void rescan(shmq_server *s)
{
	/* Pairs with the client's release increment of conn_seq after it set
	 * its slot's state. */
	s->conn_seen = load_acquire(&s->hdr->conn_seq);
	for (uint32_t i = 0; i < s->g.slots; i++) {
		struct srv_slot *sl = &s->slots[i];
		uint32_t st = load_acquire(&sl->ctl->state);
		switch (sl->state) {
		case PS_FREE:
			if (st == SLOT_CONNECTED || st == SLOT_LEAVING)
				slot_activate(s, i);
			if (st == SLOT_LEAVING)
				slot_drain(s, i);
			break;
		case PS_ACTIVE:
			if (st == SLOT_LEAVING)
				slot_drain(s, i);
			else if (st != SLOT_CONNECTED)
				slot_ban(s, i); /* only we may change it from CONNECTED */
			break;
		default:
			break;
		}
	}
}

/* Periodic: find clients that died without saying so; restore the header. */
static void housekeeping(shmq_server *s)
{
	int fd = s->seg.lock_fd;
	header_write(s);
	store_relaxed(&s->hdr->state, s->ep_state);
	store_release(&s->hdr->magic, SHMQ_MAGIC);
	rescan(s);
	for (uint32_t i = 0; i < s->g.slots; i++) {
		struct srv_slot *sl = &s->slots[i];
		uint32_t st = load_acquire(&sl->ctl->state);
		if (sl->state == PS_FREE && st == SLOT_FREE)
			continue;
		if (sl->state == PS_ACTIVE || sl->state == PS_DRAINING) {
			store_relaxed(&sl->ctl->msgs_in, sl->msgs_in);
			store_relaxed(&sl->ctl->msgs_out, sl->msgs_out);
		}
		if (lock_held(fd, slot_lock_byte(i)) == 1)
			continue;
		/* Nobody holds the slot's lock: its client is gone. */
		switch (sl->state) {
		case PS_ACTIVE:
			slot_drain(s, i);
			break;
		case PS_BANNED:
			if (!pinned(s, i))
				slot_reset(s, i);
			break;
		case PS_FREE:
			if (st == SLOT_CONNECTED || st == SLOT_LEAVING) {
				/* Came and went since the last rescan: its
				 * messages are still to be served. */
				slot_activate(s, i);
				slot_drain(s, i);
			} else {
				/* Claimed (or scribbled on) by a client that
				 * died before connecting. We read the state
				 * before the lock: a claimer locks first. */
				slot_reset(s, i);
			}
			break;
		default:
			break;
		}
	}
	s->next_check_ns = shmq__now_ns() + CHECK_INTERVAL_NS;
}

/* ---- create / close ----------------------------------------------------- */

static int config_check(const shmq_config *cfg)
{
	size_t r = cfg->ring_size;
	if (cfg->slots == 0 || cfg->slots > SHMQ_MAX_SLOTS || r < SHMQ_MIN_RING_SIZE ||
	    r > SHMQ_MAX_RING_SIZE || (r & (r - 1)) != 0 || (cfg->mode & ~0777u) ||
	    (cfg->mode & 0600u) != 0600u)
		return -EINVAL;
	return 0;
}

/* What the header says of the endpoint, from our private copy: at creation,
 * and again at every housekeeping, so that a process that scribbles on it
 * keeps new clients out for 100 ms at most. */
static void header_write(shmq_server *s)
{
	struct seg_header *h = s->hdr;
	h->layout_major = SHMQ_LAYOUT_MAJOR;
	h->layout_minor = SHMQ_LAYOUT_MINOR;
	h->total_size = s->g.total;
	h->features_incompat = SEG_FI_REQUEST_IDS;
	h->features_compat = 0;
	h->region_count = 1;
	h->regions[0] = (struct seg_region){
		.type = REGION_SLOTS,
		.offset = s->g.slots_offset,
		.size = (uint64_t)s->g.slots * s->g.slot_stride,
		.stride = s->g.slot_stride,
		.count = s->g.slots,
		.param = s->g.ring_size,
	};
	h->server_pid = s->pid;
	h->server_uid = geteuid();
	h->epoch = s->epoch;
}

static void server_init(shmq_server *s, const shmq_config *cfg)
{
	struct seg_header *h = s->hdr;
	/* Touch every page now, so no first-touch fault lands on the hot path. */
	memset(s->seg.base, 0, s->seg.size);
	s->pid = getpid();
	if (getrandom(&s->epoch, sizeof(s->epoch), GRND_NONBLOCK) != sizeof(s->epoch))
		s->epoch = shmq__now_ns() ^ ((uint64_t)s->pid << 32);
	header_write(s);
	for (uint32_t i = 0; i < s->g.slots; i++) {
		s->slots[i].ctl = slot_ctl(s->seg.base, &s->g, i);
		s->slots[i].gen = 0;
		slot_reset(s, i);
	}
	(void)cfg;
	store_relaxed(&h->state, EP_READY);
	/* Pairs with the load_acquire of magic in seg_validate: a client that
	 * sees the magic sees every field above. Written last. */
	store_release(&h->magic, SHMQ_MAGIC);
}

int shmq_server_create(shmq_server **out, const shmq_config *cfg)
{
	if (!out || !cfg)
		return -EINVAL;
	*out = NULL;
	int rc = config_check(cfg);
	if (rc < 0)
		return rc;
	shmq_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->view_slot = s->resv_slot = s->retry_slot = -1;
	s->spin_us = cfg->spin_us;
	s->ep_state = EP_READY;
	s->g.slots = cfg->slots;
	s->g.ring_size = (uint32_t)cfg->ring_size;
	s->g.slots_offset = layout_slots_offset();
	s->g.slot_stride = layout_slot_stride(s->g.ring_size);
	s->g.total = layout_total(s->g.slots, s->g.ring_size);
	s->slots = calloc(s->g.slots, sizeof(*s->slots));
	s->active = calloc(s->g.slots, sizeof(*s->active));
	if (!s->slots || !s->active) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = seg_address(&s->seg, cfg)) < 0)
		goto fail;
	if ((rc = seg_create(&s->seg, s->g.total, cfg->mode)) < 0)
		goto fail;
	s->hdr = s->seg.base;
	server_init(s, cfg);
	if ((rc = seg_publish(&s->seg)) < 0) {
		seg_destroy(&s->seg);
		goto fail;
	}
	s->next_check_ns = shmq__now_ns() + CHECK_INTERVAL_NS;
	s->sleeper = (struct sleeper){ &s->hdr->srv_seq, srv_arm, s, &s->rescan_at };
	*out = s;
	return 0;
fail:
	free(s->slots);
	free(s->active);
	free(s);
	return rc;
}

/* Tell every slot's client the endpoint's new state. */
static void tell_clients(shmq_server *s, uint32_t state)
{
	for (uint32_t i = 0; i < s->g.slots; i++) {
		struct srv_slot *sl = &s->slots[i];
		/* Hand back what we consumed first: a client in
		 * shmq_client_flush that sees the new state reads cons after it
		 * and learns exactly what we took. Pairs with its load_acquire
		 * of srv.state. */
		if (sl->state == PS_ACTIVE || sl->state == PS_DRAINING)
			ring_flush(&sl->req);
		store_release(&sl->ctl->srv.state, state);
		event_signal(&sl->ctl->cli_ev);
	}
}

int shmq_server_shutdown(shmq_server *s)
{
	if (!s)
		return -EINVAL;
	if (s->ep_state != EP_READY)
		return -EALREADY;
	s->ep_state = EP_DRAINING;
	/* New clients are refused from here (connect reads the header's
	 * state), connected ones stop sending (each reads its slot's). */
	store_release(&s->hdr->state, EP_DRAINING);
	tell_clients(s, EP_DRAINING);
	/* Pairs with the clients' release stores of prod after each commit:
	 * what we read below is what they had committed by now. The barrier
	 * keeps those loads after our state stores. */
	smp_mb();
	rescan(s); /* clients that connected before now are owed service too */
	for (uint32_t k = 0; k < s->nactive; k++) {
		struct srv_slot *sl = &s->slots[s->active[k]];
		uint64_t prod = load_acquire(&sl->ctl->req.prod);
		/* Untrusted: a client cannot have committed more than a ring
		 * beyond what we consumed. */
		sl->drain_to = prod - sl->req.pos <= s->g.ring_size ? prod : sl->req.pos;
	}
	return 0;
}

int shmq_server_close(shmq_server *s)
{
	if (!s)
		return -EINVAL;
	/* Pairs with the clients' loads of state: they stop and report -EPIPE. */
	store_release(&s->hdr->state, EP_CLOSED);
	tell_clients(s, EP_CLOSED);
	seg_destroy(&s->seg);
	free(s->slots);
	free(s->active);
	free(s);
	return 0;
}

/* ---- receive ------------------------------------------------------------ */

/* The sleeper's arm (wait.h): say in every served client's slot that we
 * sleep, or no longer do. Off the hot path: only before a futex sleep. */
static void srv_arm(void *arg, uint32_t on)
{
	shmq_server *s = arg;
	s->armed = (int)on;
	if (!on)
		s->rescan_at = 0;
	/* Each round of a sleep arms again (a woken server re-arms): write
	 * only the flags a client cleared, so a storm of spurious wake-ups
	 * does not keep every client's line bouncing. */
	for (uint32_t k = 0; k < s->nactive; k++) {
		_Atomic uint32_t *w = &s->slots[s->active[k]].ctl->srv.waiting;
		if (load_relaxed(w) != on)
			store_relaxed(w, on);
	}
}

/* Follow conn_seq if it moved, at most once per RESCAN_GAP_NS: a client
 * bumping it in a loop costs us one scan of the slots a millisecond. A
 * rescan put off while we are about to sleep caps that sleep (rescan_at),
 * so a new client waits a millisecond at most. Returns 1 if it rescanned. */
static int maybe_rescan(shmq_server *s)
{
	if (load_relaxed(&s->hdr->conn_seq) == s->conn_seen)
		return 0;
	uint64_t now = shmq__now_ns();
	if (now < s->next_rescan_ns) {
		if (s->armed)
			s->rescan_at = s->next_rescan_ns;
		return 0;
	}
	s->next_rescan_ns = now + RESCAN_GAP_NS;
	s->rescan_at = 0;
	rescan(s);
	return 1;
}

struct recv_ctx {
	shmq_server *s;
	shmq_msg *msg;
};

/* Shutting down and everything owed has been received: hand back what we
 * consumed, so clients in shmq_client_flush learn it at once. */
static int drain_done(shmq_server *s)
{
	s->drained = 1;
	for (uint32_t k = 0; k < s->nactive; k++) {
		struct srv_slot *sl = &s->slots[s->active[k]];
		if (ring_flush(&sl->req))
			event_signal(&sl->ctl->cli_ev);
	}
	return -ESHUTDOWN;
}

/* One round over the served slots. 0 with a message in ctx, -EAGAIN. On
 * the path of every message: inlined. */
static inline __attribute__((always_inline)) int scan(struct recv_ctx *ctx)
{
	shmq_server *s = ctx->s;
	int draining = s->ep_state == EP_DRAINING;

	for (uint32_t k = 0; k < s->nactive;) {
		uint32_t at = s->rr + k; /* rr < nactive, k < nactive: no divide */
		if (at >= s->nactive)
			at -= s->nactive;
		uint32_t i = s->active[at];
		struct srv_slot *sl = &s->slots[i];
		if (draining && sl->req.pos >= sl->drain_to) {
			k++; /* sent after the decision to stop: not taken */
			continue;
		}
		struct ring_view v;
		int rc = ring_peek(&sl->req, &v);
		if (rc == 0 && v.type == REC_REPLY)
			rc = -EPROTO; /* a client has nothing to reply to */
		if (rc == 0) {
			s->rr = at + 1 < s->nactive ? at + 1 : 0;
			s->view_slot = (int)i;
			*ctx->msg = (shmq_msg){
				.data = v.data,
				.len = v.len,
				.from = { .slot = i, .gen = sl->gen },
				.flags = v.type == REC_REQUEST ? SHMQ_MSG_REQUEST : 0,
				.id = v.id,
			};
			return 0;
		}
		/* Shutting down, a record owed (the client had published prod
		 * past it, after its seal) that is not there: the client lied. */
		if (rc == -EPROTO || (draining && sl->req.pos < sl->drain_to)) {
			slot_ban(s, i); /* active[] changed: look at position k again */
			continue;
		}
		if (sl->state == PS_DRAINING && slot_retire(s, i))
			continue;
		/* Empty: hand back the space we consumed, so a client waiting
		 * for room gets it before we wait ourselves. */
		if (ring_flush(&sl->req))
			event_signal(&sl->ctl->cli_ev);
		k++;
	}
	return -EAGAIN;
}

static int poll_recv(void *arg)
{
	struct recv_ctx *ctx = arg;
	shmq_server *s = ctx->s;

	if (s->drained)
		return -ESHUTDOWN;
	if ((++s->polls & 1023) == 0 && shmq__now_ns() >= s->next_check_ns)
		housekeeping(s);
	/* Every 64th poll even while messages flow, so that a busy server
	 * still sees new clients; otherwise only when there was nothing. The
	 * header's line is not read on the way to a message. */
	if ((s->polls & 63) == 0)
		maybe_rescan(s);

	/* A message left queued by -EMSGSIZE comes first, so a retry with a
	 * larger buffer gets that very message. */
	if (s->retry_slot >= 0) {
		uint32_t i = (uint32_t)s->retry_slot;
		s->retry_slot = -1;
		for (uint32_t at = 0; at < s->nactive; at++)
			if (s->active[at] == i)
				s->rr = at;
	}
	int rc = scan(ctx);
	if (rc == -EAGAIN && maybe_rescan(s))
		rc = scan(ctx);
	/* Shutting down, and a whole round found nothing: every slot left has
	 * reached its mark (scan banned those that claimed more than they
	 * sent), so nothing owed is left. */
	if (rc == -EAGAIN && s->ep_state == EP_DRAINING)
		return drain_done(s);
	return rc;
}

static int check_server(void *arg)
{
	struct recv_ctx *ctx = arg;
	housekeeping(ctx->s);
	return 0;
}

int shmq_server_recv_view(shmq_server *s, shmq_msg *msg, int timeout_ms)
{
	if (!s || !msg)
		return -EINVAL;
	if (s->view_slot >= 0)
		return -EBUSY;
	struct recv_ctx ctx = { s, msg };
	return shmq__wait(&s->sleeper, poll_recv, check_server, &ctx, s->spin_us,
			  shmq__deadline(timeout_ms));
}

int shmq_server_release(shmq_server *s, shmq_msg *msg)
{
	if (!s || s->view_slot < 0)
		return -EINVAL;
	struct srv_slot *sl = &s->slots[s->view_slot];
	s->view_slot = -1;
	if (msg)
		msg->data = NULL;
	/* Banned while the view was out: the ring is no longer ours to move. */
	if (sl->state != PS_ACTIVE && sl->state != PS_DRAINING)
		return 0;
	sl->msgs_in++;
	/* The client may be waiting for room in its request ring. */
	if (ring_release(&sl->req))
		event_signal(&sl->ctl->cli_ev);
	return 0;
}

ssize_t shmq_server_recv(shmq_server *s, void *buf, size_t cap, shmq_msg *msg,
			 int timeout_ms)
{
	shmq_msg m;
	if (!msg)
		msg = &m;
	if (!s || (!buf && cap))
		return -EINVAL;
	int rc = shmq_server_recv_view(s, msg, timeout_ms);
	if (rc < 0)
		return rc;
	if (msg->len > cap) {
		s->retry_slot = s->view_slot; /* leave it queued, first in line */
		s->view_slot = -1;
		msg->data = NULL;
		return -EMSGSIZE;
	}
	if (msg->len)
		memcpy(buf, msg->data, msg->len);
	size_t len = msg->len;
	shmq_server_release(s, msg);
	return (ssize_t)len;
}

/* ---- send --------------------------------------------------------------- */

static struct srv_slot *lookup(shmq_server *s, shmq_client_id id)
{
	if (id.slot >= s->g.slots)
		return NULL;
	struct srv_slot *sl = &s->slots[id.slot];
	if (sl->state != PS_ACTIVE || sl->gen != id.gen)
		return NULL;
	return sl;
}

struct send_ctx {
	shmq_server *s;
	uint32_t slot;
	uint32_t len;
	uint32_t type;
	void *payload;
};

/* Hand back every request byte we have consumed. Needed before we wait for
 * anything: a client blocked on a full request ring may be the very one whose
 * replies we wait to send. */
static void flush_requests(shmq_server *s)
{
	for (uint32_t k = 0; k < s->nactive; k++) {
		struct srv_slot *sl = &s->slots[s->active[k]];
		if (ring_flush(&sl->req))
			event_signal(&sl->ctl->cli_ev);
	}
}

static int poll_send(void *arg)
{
	struct send_ctx *ctx = arg;
	struct srv_slot *sl = &ctx->s->slots[ctx->slot];
	if (sl->state != PS_ACTIVE)
		return -ENOTCONN;
	int rc = ring_reserve(&sl->rep, ctx->len, ctx->type, &ctx->payload);
	if (rc == -EPROTO) {
		slot_ban(ctx->s, ctx->slot);
		return -ENOTCONN;
	}
	if (rc == -EAGAIN)
		flush_requests(ctx->s);
	return rc;
}

static int check_send(void *arg)
{
	struct send_ctx *ctx = arg;
	housekeeping(ctx->s);
	if (load_relaxed(&ctx->s->slots[ctx->slot].ctl->state) == SLOT_LEAVING)
		slot_drain(ctx->s, ctx->slot);
	return ctx->s->slots[ctx->slot].state == PS_ACTIVE ? 0 : -ENOTCONN;
}

static int reserve(shmq_server *s, shmq_client_id to, size_t len, uint32_t type, uint64_t id,
		   void **buf, int timeout_ms)
{
	if (s->resv_slot >= 0)
		return -EBUSY;
	struct srv_slot *sl = lookup(s, to);
	if (!sl)
		return -ENOTCONN;
	if (len > sl->rep.max_payload)
		return -EMSGSIZE;
	struct send_ctx ctx = { s, to.slot, (uint32_t)len, type, NULL };
	/* We sleep on our own doorbell; the client rings it when it frees
	 * room in its reply ring. */
	int rc = shmq__wait(&s->sleeper, poll_send, check_send, &ctx, s->spin_us,
			    shmq__deadline(timeout_ms));
	if (rc < 0)
		return rc;
	s->resv_slot = (int)to.slot;
	s->resv_id = id;
	*buf = ctx.payload;
	return 0;
}

int shmq_server_reserve(shmq_server *s, shmq_client_id to, size_t len, void **buf,
			int timeout_ms)
{
	if (!s || !buf)
		return -EINVAL;
	return reserve(s, to, len, 0, 0, buf, timeout_ms);
}

int shmq_server_reserve_reply(shmq_server *s, const shmq_msg *req, size_t len, void **buf,
			      int timeout_ms)
{
	if (!s || !buf || !req || !(req->flags & SHMQ_MSG_REQUEST))
		return -EINVAL;
	return reserve(s, req->from, len, REC_REPLY, req->id, buf, timeout_ms);
}

int shmq_server_commit(shmq_server *s, size_t len)
{
	if (!s || s->resv_slot < 0)
		return -EINVAL;
	struct srv_slot *sl = &s->slots[s->resv_slot];
	if (len > sl->rep.resv_cap)
		return -EMSGSIZE;
	s->resv_slot = -1;
	if (sl->state != PS_ACTIVE) {
		/* Banned or gone since the reservation: nothing is sent. */
		ring_abort(&sl->rep);
		return -ENOTCONN;
	}
	ring_commit(&sl->rep, (uint32_t)len, s->resv_id);
	sl->msgs_out++;
	event_signal(&sl->ctl->cli_ev);
	return 0;
}

int shmq_server_abort(shmq_server *s)
{
	if (!s || s->resv_slot < 0)
		return -EINVAL;
	ring_abort(&s->slots[s->resv_slot].rep);
	s->resv_slot = -1;
	return 0;
}

static int send_copy(shmq_server *s, shmq_client_id to, uint32_t type, uint64_t id,
		     const void *buf, size_t len, int timeout_ms)
{
	void *p = NULL;
	int rc = reserve(s, to, len, type, id, &p, timeout_ms);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(p, buf, len);
	return shmq_server_commit(s, len);
}

int shmq_server_send(shmq_server *s, shmq_client_id to, const void *buf, size_t len,
		     int timeout_ms)
{
	if (!s || (!buf && len))
		return -EINVAL;
	return send_copy(s, to, 0, 0, buf, len, timeout_ms);
}

int shmq_server_reply(shmq_server *s, const shmq_msg *req, const void *buf, size_t len,
		      int timeout_ms)
{
	if (!s || (!buf && len) || !req || !(req->flags & SHMQ_MSG_REQUEST))
		return -EINVAL;
	return send_copy(s, req->from, REC_REPLY, req->id, buf, len, timeout_ms);
}

/* ---- information -------------------------------------------------------- */

size_t shmq_server_max_msg(const shmq_server *s)
{
	return s ? ring_max_payload(s->g.ring_size) : 0;
}

static void fill_info(const shmq_server *s, uint32_t i, shmq_client_info *out)
{
	const struct srv_slot *sl = &s->slots[i];
	*out = (shmq_client_info){
		.id = { .slot = i, .gen = sl->gen },
		.pid = sl->pid,
		.uid = sl->uid,
		.msgs_in = sl->msgs_in,
		.msgs_out = sl->msgs_out,
	};
}

int shmq_server_clients(shmq_server *s, shmq_client_info *out, size_t n)
{
	if (!s || (!out && n))
		return -EINVAL;
	if (load_relaxed(&s->hdr->conn_seq) != s->conn_seen)
		rescan(s);
	size_t count = 0;
	for (uint32_t i = 0; i < s->g.slots; i++) {
		if (s->slots[i].state != PS_ACTIVE)
			continue;
		if (count < n)
			fill_info(s, i, &out[count]);
		count++;
	}
	return (int)count;
}

int shmq_server_client_info(shmq_server *s, shmq_client_id id, shmq_client_info *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!lookup(s, id))
		return -ENOTCONN;
	fill_info(s, id.slot, out);
	return 0;
}
