/* SPDX-License-Identifier: MIT */
/*
 * Reference: a bare futex ping-pong. Like the cache-line one, but each side
 * sleeps in FUTEX_WAIT at once and the other wakes it with FUTEX_WAKE: the
 * cost of waking a sleeping process on another CPU, the floor for every
 * blocking transport.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "transport.h"

#define STOP UINT32_MAX

struct words {
	_Alignas(64) _Atomic uint32_t ping;
	_Alignas(64) _Atomic uint32_t pong;
};

/* Not FUTEX_PRIVATE_FLAG: the words are shared between processes. */
static void fwait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void fwake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int fx_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	c->priv = bench_shared_alloc(sizeof(struct words));
	return c->priv ? 0 : -ENOMEM;
}

static void fx_teardown(struct tp_case *c)
{
	if (c->priv)
		munmap(c->priv, sizeof(struct words));
}

static int fx_open(struct tp_case *c, int role, void **ep)
{
	(void)role;
	*ep = c->priv;
	return 0;
}

static void fx_close(void *ep)
{
	(void)ep;
}

static inline void post_and_wait(struct words *w, uint32_t i)
{
	atomic_store_explicit(&w->ping, i, memory_order_release);
	fwake(&w->ping);
	uint32_t v;
	while ((v = atomic_load_explicit(&w->pong, memory_order_acquire)) != i)
		fwait(&w->pong, v);
}

static int fx_client(void *ep, struct ref_run *r)
{
	struct words *w = ep;
	uint32_t i = 1;
	for (; i <= r->warmup; i++)
		post_and_wait(w, i);
	r->t0 = bench_now_ns();
	uint64_t end = r->t0 + r->budget_ns;
	while (r->nsamples < r->max_samples) {
		uint64_t a = bench_now_ns();
		post_and_wait(w, i++);
		uint64_t b = bench_now_ns();
		r->samples[r->nsamples++] = (uint32_t)(b - a);
		if (b >= end)
			break;
	}
	r->t1 = bench_now_ns();
	atomic_store_explicit(&w->ping, STOP, memory_order_release);
	fwake(&w->ping);
	return 0;
}

static int fx_server(void *ep)
{
	struct words *w = ep;
	uint32_t last = 0, v;
	for (;;) {
		while ((v = atomic_load_explicit(&w->ping, memory_order_acquire)) == last)
			fwait(&w->ping, last);
		if (v == STOP)
			return 0;
		atomic_store_explicit(&w->pong, v, memory_order_release);
		fwake(&w->pong);
		last = v;
	}
}

const struct transport tp_ref_futex = {
	.name = "ref-futex",
	.mode = "block",
	.family = "ref",
	.what = "reference: bare futex ping-pong (FUTEX_WAIT/FUTEX_WAKE, no payload)",
	.caps = TP_LAT,
	.setup = fx_setup,
	.teardown = fx_teardown,
	.open = fx_open,
	.close = fx_close,
	.ref_client = fx_client,
	.ref_server = fx_server,
};
