/* SPDX-License-Identifier: MIT */
/* The bridge's pending table: see bridge.h. */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t c = 1;
	while (c < n)
		c <<= 1;
	return c;
}

int ptable_init(struct ptable *t, unsigned cap, int with_ids)
{
	memset(t, 0, sizeof(*t));
	uint64_t n = pow2_at_least(cap ? cap : 1);
	t->v = calloc(n, sizeof(*t->v));
	if (!t->v)
		return -1;
	t->mask = n - 1;
	t->head = t->next = 1;
	if (with_ids) {
		/* At most half full, so probes stay short. */
		uint64_t h = 2 * n;
		t->hkey = calloc(h, sizeof(*t->hkey));
		t->hseq = calloc(h, sizeof(*t->hseq));
		if (!t->hkey || !t->hseq) {
			ptable_free(t);
			return -1;
		}
		t->hmask = h - 1;
	}
	return 0;
}

void ptable_free(struct ptable *t)
{
	if (t->v)
		for (uint64_t i = 0; i <= t->mask; i++)
			free(t->v[i].reply);
	free(t->v);
	free(t->hkey);
	free(t->hseq);
	memset(t, 0, sizeof(*t));
}

int ptable_full(const struct ptable *t)
{
	/* The slot of seq `next` is the slot of `next - capacity`: full while
	 * that one may still be live. */
	return t->next - t->head > t->mask;
}

/* Move the head past entries that have left. */
static void advance(struct ptable *t)
{
	while (t->head < t->next && t->v[t->head & t->mask].seq != t->head)
		t->head++;
}

struct pend *ptable_add(struct ptable *t, int64_t deadline)
{
	advance(t);
	if (ptable_full(t))
		return NULL;
	struct pend *p = &t->v[t->next & t->mask];
	memset(p, 0, sizeof(*p));
	p->seq = t->next++;
	p->deadline = deadline;
	t->live++;
	return p;
}

struct pend *ptable_by_seq(struct ptable *t, uint64_t seq)
{
	if (seq == 0)
		return NULL;
	struct pend *p = &t->v[seq & t->mask];
	return p->seq == seq ? p : NULL;
}

static uint64_t hash64(uint64_t x)
{
	/* splitmix64's finalizer: ids are sequential, spread them. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void ptable_set_id(struct ptable *t, struct pend *p, uint64_t id)
{
	p->id = id;
	uint64_t i = hash64(id) & t->hmask;
	while (t->hseq[i])
		i = (i + 1) & t->hmask;
	t->hkey[i] = id;
	t->hseq[i] = p->seq;
}

static uint64_t hfind(const struct ptable *t, uint64_t id)
{
	uint64_t i = hash64(id) & t->hmask;
	while (t->hseq[i]) {
		if (t->hkey[i] == id)
			return i;
		i = (i + 1) & t->hmask;
	}
	return UINT64_MAX;
}

struct pend *ptable_by_id(struct ptable *t, uint64_t id)
{
	if (!t->hseq)
		return NULL;
	uint64_t i = hfind(t, id);
	return i == UINT64_MAX ? NULL : ptable_by_seq(t, t->hseq[i]);
}

/* Linear probing's deletion: shift back the entries of the run after the
 * hole that would no longer be found across it. */
static void hdel(struct ptable *t, uint64_t i)
{
	uint64_t j = i;
	for (;;) {
		t->hseq[i] = 0;
		for (;;) {
			j = (j + 1) & t->hmask;
			if (!t->hseq[j])
				return;
			uint64_t k = hash64(t->hkey[j]) & t->hmask;
			/* Stays if its home k lies cyclically in (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->hkey[i] = t->hkey[j];
		t->hseq[i] = t->hseq[j];
		i = j;
	}
}

void ptable_del(struct ptable *t, struct pend *p)
{
	if (t->hseq) {
		uint64_t i = hfind(t, p->id);
		if (i != UINT64_MAX)
			hdel(t, i);
	}
	free(p->reply);
	memset(p, 0, sizeof(*p));
	t->live--;
	advance(t);
}

struct pend *ptable_oldest(struct ptable *t)
{
	advance(t);
	return t->head < t->next ? &t->v[t->head & t->mask] : NULL;
}

struct pend *ptable_expired(struct ptable *t, int64_t now)
{
	struct pend *p = ptable_oldest(t);
	return p && p->deadline <= now ? p : NULL;
}

int ptable_wait_ms(struct ptable *t, int64_t now, int cap)
{
	struct pend *p = ptable_oldest(t);
	if (!p)
		return cap;
	int64_t d = p->deadline - now;
	if (d < 0)
		return 0;
	return d < cap ? (int)d : cap;
}
