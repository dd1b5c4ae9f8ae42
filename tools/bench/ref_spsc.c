/* SPDX-License-Identifier: MIT */
/*
 * Reference: a bare single-producer single-consumer slot ring between the
 * two CPUs, busy-polling, memcpy in and memcpy out, one index store per
 * message and no checks. What a copying shared-memory transport can reach
 * on this machine: its throughput is the ceiling for shmq's copying modes
 * (cross-CPU cache transfers, not memcpy, set it for large messages).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "transport.h"

struct spsc {
	_Alignas(64) _Atomic uint64_t head; /* written by the producer */
	_Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
	_Alignas(64) _Atomic uint64_t end;  /* messages in all, once known */
	size_t size, nslots, len;
	_Alignas(64) unsigned char data[];
};

struct spsc_end {
	struct spsc *q;
	unsigned char *buf;
};

static size_t spsc_len(size_t size, size_t *nslots)
{
	size_t n = bench_ring_bytes(size) / size;
	n = n < 4 ? 4 : n > 1024 ? 1024 : n;
	*nslots = n;
	return sizeof(struct spsc) + n * size;
}

static int sp_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	size_t nslots, len = spsc_len(c->size, &nslots);
	struct spsc *q = bench_shared_alloc(len);
	if (!q)
		return -ENOMEM;
	q->size = c->size;
	q->nslots = nslots;
	q->len = len;
	atomic_store(&q->end, UINT64_MAX);
	c->priv = q;
	return 0;
}

static void sp_teardown(struct tp_case *c)
{
	struct spsc *q = c->priv;
	if (q)
		munmap(q, q->len);
}

static int sp_open(struct tp_case *c, int role, void **ep)
{
	(void)role;
	struct spsc_end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->q = c->priv;
	e->buf = bench_alloc(c->size);
	*ep = e;
	return e->buf ? 0 : -ENOMEM;
}

static void sp_close(void *ep)
{
	struct spsc_end *e = ep;
	bench_free(e->buf, e->q->size);
	free(e);
}

static inline unsigned char *slot(struct spsc *q, uint64_t i)
{
	return q->data + (size_t)(i % q->nslots) * q->size;
}

static void produce(struct spsc *q, const unsigned char *src, uint64_t i)
{
	while (i - atomic_load_explicit(&q->tail, memory_order_acquire) >= q->nslots)
		;
	memcpy(slot(q, i), src, q->size);
	atomic_store_explicit(&q->head, i + 1, memory_order_release);
}

static int sp_client(void *ep, struct ref_run *r)
{
	struct spsc_end *e = ep;
	struct spsc *q = e->q;
	uint64_t i = 0;
	for (; i < 2 * q->nslots + 64; i++)
		produce(q, e->buf, i);
	while (atomic_load_explicit(&q->tail, memory_order_acquire) != i)
		;
	uint64_t first = i;
	r->t0 = bench_now_ns();
	uint64_t end = r->t0 + r->budget_ns;
	for (;;) {
		for (unsigned k = 0; k < 64; k++)
			produce(q, e->buf, i++);
		if (bench_now_ns() >= end)
			break;
	}
	atomic_store_explicit(&q->end, i, memory_order_release);
	while (atomic_load_explicit(&q->tail, memory_order_acquire) != i)
		;
	r->t1 = bench_now_ns();
	r->msgs = i - first;
	return 0;
}

static int sp_server(void *ep)
{
	struct spsc_end *e = ep;
	struct spsc *q = e->q;
	for (uint64_t i = 0;; i++) {
		while (atomic_load_explicit(&q->head, memory_order_acquire) == i)
			if (atomic_load_explicit(&q->end, memory_order_acquire) == i)
				return 0;
		memcpy(e->buf, slot(q, i), q->size);
		atomic_store_explicit(&q->tail, i + 1, memory_order_release);
	}
}

const struct transport tp_ref_spsc = {
	.name = "ref-spsc",
	.mode = "busy",
	.family = "ref",
	.what = "reference: bare SPSC slot ring between two CPUs, memcpy in and out, no checks",
	.caps = TP_TPUT | TP_BUSY,
	.setup = sp_setup,
	.teardown = sp_teardown,
	.open = sp_open,
	.close = sp_close,
	.ref_client = sp_client,
	.ref_server = sp_server,
};
