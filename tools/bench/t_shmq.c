/* SPDX-License-Identifier: MIT */
/*
 * shmq itself, through the public API only: one endpoint per case under a
 * unique POSIX name, one slot per client, rings sized for the message
 * (next power of two >= 4 x size, at least 64 KiB; the largest message is
 * ring/2 - 24). Modes: blocking (spin 0: sleep on the futex at once),
 * adaptive (the default spin, then sleep), busy-poll (SHMQ_SPIN_FOREVER);
 * each copying (send/recv) and zero-copy (reserve/commit, recv_view/release).
 * The round trips use one-way messages both ways; the "-req" modes use
 * correlated requests (send_request / recv_reply, and shmq_server_reply),
 * whose records carry an 8-byte id: what that costs, latency only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmq.h"
#include "transport.h"

enum { M_BLOCK = 0, M_ADAPTIVE = 1, M_BUSY = 2, M_SPIN_MASK = 3, M_ZC = 0x10, M_REQ = 0x20 };

struct shmq_case {
	shmq_config cfg;
	char name[64];
};

struct end {
	shmq_server *s;
	shmq_client *c;
	unsigned n;
	shmq_client_id *ids; /* server: client index -> id */
	shmq_msg view;
	int req;        /* requests and replies instead of one-way messages */
	shmq_msg *last; /* server, req: the last request from each client */
};

static int sq_setup(struct tp_case *c, char *note, size_t n)
{
	struct shmq_case *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	c->priv = q;
	shmq_config_init(&q->cfg);
	snprintf(q->name, sizeof(q->name), "/%s", c->tag);
	q->cfg.name = q->name;
	q->cfg.slots = c->nclients;
	q->cfg.ring_size = bench_ring_bytes(c->size);
	switch (c->t->arg & M_SPIN_MASK) {
	case M_BLOCK:
		q->cfg.spin_us = 0;
		break;
	case M_ADAPTIVE:
		q->cfg.spin_us = SHMQ_DEFAULT_SPIN_US;
		break;
	default:
		q->cfg.spin_us = SHMQ_SPIN_FOREVER;
		break;
	}
	if (c->size > q->cfg.ring_size / 2 - 24 || q->cfg.ring_size > SHMQ_MAX_RING_SIZE) {
		snprintf(note, n, "message too large for a shmq ring");
		free(q);
		c->priv = NULL;
		return -ENOTSUP;
	}
	return 0;
}

static void sq_teardown(struct tp_case *c)
{
	struct shmq_case *q = c->priv;
	if (!q)
		return;
	/* Normally gone with its server; this removes it if the server died. */
	shmq_remove(&q->cfg, 0);
	free(q);
	c->priv = NULL;
}

static int sq_open(struct tp_case *c, int role, void **ep)
{
	struct shmq_case *q = c->priv;
	struct end *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*ep = e;
	e->n = c->nclients;
	e->req = (c->t->arg & M_REQ) != 0;
	if (role != ROLE_SERVER)
		return shmq_client_connect(&e->c, &q->cfg);
	e->ids = calloc(e->n, sizeof(*e->ids));
	e->last = calloc(e->n, sizeof(*e->last));
	if (!e->ids || !e->last)
		return -ENOMEM;
	return shmq_server_create(&e->s, &q->cfg);
}

/* Wait (10 s at most) until every client is connected; number them in
 * slot order. */
static int sq_accept(void *ep)
{
	struct end *e = ep;
	shmq_client_info *info = calloc(e->n, sizeof(*info));
	if (!info)
		return -ENOMEM;
	uint64_t deadline = bench_now_ns() + 10ull * 1000000000ull;
	int rc;
	while ((rc = shmq_server_clients(e->s, info, e->n)) >= 0 && (unsigned)rc < e->n) {
		if (bench_now_ns() > deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (rc > 0 && (unsigned)rc > e->n)
		rc = -EPROTO;
	for (unsigned i = 0; rc >= 0 && i < e->n; i++)
		e->ids[i] = info[i].id;
	free(info);
	return rc < 0 ? rc : 0;
}

static void sq_close(void *ep)
{
	struct end *e = ep;
	if (e->s)
		shmq_server_close(e->s);
	if (e->c)
		shmq_client_close(e->c);
	free(e->ids);
	free(e->last);
	free(e);
}

static unsigned index_of(const struct end *e, shmq_client_id id)
{
	for (unsigned i = 0; i < e->n; i++)
		if (e->ids[i].slot == id.slot && e->ids[i].gen == id.gen)
			return i;
	return e->n; /* the runner reports an unknown client */
}

static int sq_send(void *ep, unsigned to, const void *buf, size_t len)
{
	struct end *e = ep;
	if (e->s && e->req)
		return shmq_server_reply(e->s, &e->last[to], buf, len, SHMQ_FOREVER);
	if (e->s)
		return shmq_server_send(e->s, e->ids[to], buf, len, SHMQ_FOREVER);
	if (e->req) {
		uint64_t id;
		return shmq_client_send_request(e->c, buf, len, &id, SHMQ_FOREVER);
	}
	return shmq_client_send(e->c, buf, len, SHMQ_FOREVER);
}

static ssize_t sq_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	struct end *e = ep;
	*from = 0;
	if (!e->s && e->req)
		return shmq_client_recv_reply(e->c, SHMQ_ANY_REQUEST, buf, cap, NULL, SHMQ_FOREVER);
	if (!e->s)
		return shmq_client_recv(e->c, buf, cap, SHMQ_FOREVER);
	shmq_msg m;
	ssize_t n = shmq_server_recv(e->s, buf, cap, &m, SHMQ_FOREVER);
	if (n >= 0) {
		*from = index_of(e, m.from);
		if (e->req && *from < e->n)
			e->last[*from] = m;
	}
	return n;
}

static int sq_reserve(void *ep, unsigned to, size_t len, void **buf)
{
	struct end *e = ep;
	if (e->s)
		return shmq_server_reserve(e->s, e->ids[to], len, buf, SHMQ_FOREVER);
	return shmq_client_reserve(e->c, len, buf, SHMQ_FOREVER);
}

static int sq_commit(void *ep, size_t len)
{
	struct end *e = ep;
	if (e->s)
		return shmq_server_commit(e->s, len);
	return shmq_client_commit(e->c, len, NULL);
}

static ssize_t sq_recv_view(void *ep, const void **data, unsigned *from)
{
	struct end *e = ep;
	int rc;
	*from = 0;
	if (e->s) {
		rc = shmq_server_recv_view(e->s, &e->view, SHMQ_FOREVER);
		if (rc == 0)
			*from = index_of(e, e->view.from);
	} else {
		rc = shmq_client_recv_view(e->c, &e->view, SHMQ_FOREVER);
	}
	if (rc < 0)
		return rc;
	*data = e->view.data;
	return (ssize_t)e->view.len;
}

static int sq_release(void *ep)
{
	struct end *e = ep;
	if (e->s)
		return shmq_server_release(e->s, &e->view);
	return shmq_client_release(e->c, &e->view);
}

#define SHMQ_TRANSPORT(var, mode_, arg_, caps_, what_)                                      \
	const struct transport var = {                                                      \
		.name = "shmq",                                                             \
		.mode = mode_,                                                              \
		.family = "shm",                                                            \
		.what = what_,                                                              \
		.caps = ((arg_) & M_REQ ? TP_LAT : TP_LAT | TP_TPUT | TP_IDLE | TP_MULTI) | \
			(caps_),                                                            \
		.arg = (arg_),                                                              \
		.setup = sq_setup,                                                          \
		.teardown = sq_teardown,                                                    \
		.open = sq_open,                                                            \
		.accept = sq_accept,                                                        \
		.close = sq_close,                                                          \
		.send = sq_send,                                                            \
		.recv = sq_recv,                                                            \
		.reserve = ((arg_) & M_ZC) ? sq_reserve : NULL,                             \
		.commit = ((arg_) & M_ZC) ? sq_commit : NULL,                               \
		.recv_view = ((arg_) & M_ZC) ? sq_recv_view : NULL,                         \
		.release = ((arg_) & M_ZC) ? sq_release : NULL,                             \
	}

/* Requests: latency only (a stream of requests nobody answers would fill
 * the client's in-flight table). */
SHMQ_TRANSPORT(tp_shmq_busy_req, "busy-req", M_BUSY | M_REQ, TP_BUSY,
	       "shmq, busy-poll, correlated request/reply (8-byte id per record)");
SHMQ_TRANSPORT(tp_shmq_adaptive_req, "adaptive-req", M_ADAPTIVE | M_REQ, 0,
	       "shmq, adaptive, correlated request/reply (8-byte id per record)");

SHMQ_TRANSPORT(tp_shmq_busy, "busy", M_BUSY, TP_BUSY,
	       "shmq, busy-poll (SHMQ_SPIN_FOREVER), send/recv");
SHMQ_TRANSPORT(tp_shmq_adaptive, "adaptive", M_ADAPTIVE, 0,
	       "shmq, spin 50 us then sleep on the futex (default), send/recv");
SHMQ_TRANSPORT(tp_shmq_block, "block", M_BLOCK, 0,
	       "shmq, sleep on the futex at once (spin 0), send/recv");
SHMQ_TRANSPORT(tp_shmq_busy_zc, "busy-zc", M_BUSY | M_ZC, TP_BUSY,
	       "shmq, busy-poll, zero-copy reserve/commit + recv_view/release");
SHMQ_TRANSPORT(tp_shmq_adaptive_zc, "adaptive-zc", M_ADAPTIVE | M_ZC, 0,
	       "shmq, adaptive, zero-copy reserve/commit + recv_view/release");
SHMQ_TRANSPORT(tp_shmq_block_zc, "block-zc", M_BLOCK | M_ZC, 0,
	       "shmq, blocking, zero-copy reserve/commit + recv_view/release");
