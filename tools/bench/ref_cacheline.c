/* SPDX-License-Identifier: MIT */
/*
 * Reference: a bare cache-line ping-pong between the two CPUs. Two 32-bit
 * words on their own cache lines; the client writes a number into one and
 * spins (plain loads, no pause) until the server has copied it into the
 * other. No payload, no checks: the floor for any busy-polling transport.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "transport.h"

#define STOP UINT32_MAX

struct lines {
	_Alignas(64) _Atomic uint32_t ping;
	_Alignas(64) _Atomic uint32_t pong;
};

static int cl_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	c->priv = bench_shared_alloc(sizeof(struct lines));
	return c->priv ? 0 : -ENOMEM;
}

static void cl_teardown(struct tp_case *c)
{
	if (c->priv)
		munmap(c->priv, sizeof(struct lines));
}

static int cl_open(struct tp_case *c, int role, void **ep)
{
	(void)role;
	*ep = c->priv;
	return 0;
}

static void cl_close(void *ep)
{
	(void)ep;
}

static inline void hit(struct lines *l, uint32_t i)
{
	/* Release/acquire: what any real message handoff needs at least. */
	atomic_store_explicit(&l->ping, i, memory_order_release);
	while (atomic_load_explicit(&l->pong, memory_order_acquire) != i)
		;
}

static int cl_client(void *ep, struct ref_run *r)
{
	struct lines *l = ep;
	uint32_t i = 1;
	for (; i <= r->warmup; i++)
		hit(l, i);
	r->t0 = bench_now_ns();
	uint64_t end = r->t0 + r->budget_ns;
	while (r->nsamples < r->max_samples) {
		uint64_t a = bench_now_ns();
		hit(l, i++);
		uint64_t b = bench_now_ns();
		r->samples[r->nsamples++] = (uint32_t)(b - a);
		if (b >= end)
			break;
	}
	r->t1 = bench_now_ns();
	atomic_store_explicit(&l->ping, STOP, memory_order_release);
	return 0;
}

static int cl_server(void *ep)
{
	struct lines *l = ep;
	uint32_t last = 0, v;
	for (;;) {
		while ((v = atomic_load_explicit(&l->ping, memory_order_acquire)) == last)
			;
		if (v == STOP)
			return 0;
		atomic_store_explicit(&l->pong, v, memory_order_release);
		last = v;
	}
}

const struct transport tp_ref_cacheline = {
	.name = "ref-cacheline",
	.mode = "busy",
	.family = "ref",
	.what = "reference: bare cache-line ping-pong between two CPUs (no payload)",
	.caps = TP_LAT | TP_BUSY,
	.setup = cl_setup,
	.teardown = cl_teardown,
	.open = cl_open,
	.close = cl_close,
	.ref_client = cl_client,
	.ref_server = cl_server,
};
