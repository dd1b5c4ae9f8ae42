/* SPDX-License-Identifier: MIT */
/*
 * Reference: memcpy bandwidth, one process, one copy of `size` bytes from a
 * warm source to a warm destination, repeated for the time budget. Any
 * copying transport moves each message at least once: this is its ceiling.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "transport.h"

static int mc_run(size_t size, struct ref_run *r)
{
	unsigned char *src = bench_alloc(size), *dst = bench_alloc(size);
	if (!src || !dst) {
		bench_free(src, size);
		bench_free(dst, size);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < 16; i++)
		memcpy(dst, src, size);
	r->t0 = bench_now_ns();
	uint64_t end = r->t0 + r->budget_ns, last = r->t0;
	unsigned every = 1, since = 0;
	for (;;) {
		memcpy(dst, src, size);
		/* The copy must happen: dst is "used" here. */
		__asm__ __volatile__("" : : "r"(dst) : "memory");
		r->msgs++;
		if (++since < every)
			continue;
		since = 0;
		uint64_t t = bench_now_ns();
		if (t >= end)
			break;
		if (t - last < 20000 && every < 4096)
			every *= 2;
		last = t;
	}
	r->t1 = bench_now_ns();
	bench_free(src, size);
	bench_free(dst, size);
	return 0;
}

const struct transport tp_ref_memcpy = {
	.name = "ref-memcpy",
	.mode = "copy",
	.family = "ref",
	.what = "reference: memcpy bandwidth, one copy per message, one process",
	.caps = TP_TPUT,
	.ref_local = mc_run,
};
