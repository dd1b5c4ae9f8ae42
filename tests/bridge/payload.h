/* SPDX-License-Identifier: MIT */
/*
 * Payloads for the bridge tests: request i of a run is "#%08u." (its index,
 * printable, so that `shmq server`'s log and the responders can name it)
 * followed by pseudo-random bytes of which about a quarter are NUL, with a
 * pseudo-random length up to max_len; every `empty_every`-th is empty (it
 * is matched by its reply subject or request id alone). The same (seed, i)
 * always gives the same bytes, so the checker regenerates instead of
 * storing.
 */
#ifndef SHMQ_TEST_BRIDGE_PAYLOAD_H
#define SHMQ_TEST_BRIDGE_PAYLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PAYLOAD_HDR 10 /* "#00000042." */
#define ERR_PREFIX "\0shmq-bridge-error: "
#define ERR_PREFIX_LEN (sizeof(ERR_PREFIX) - 1)

static inline uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* buf must hold max_len bytes (max_len >= PAYLOAD_HDR). */
static inline size_t payload_make(unsigned char *buf, uint64_t seed, uint32_t i, size_t max_len,
				  unsigned empty_every)
{
	if (empty_every && i % empty_every == empty_every - 1)
		return 0;
	uint64_t s = seed ^ ((uint64_t)i * 0xd1b54a32d192ed03ull);
	size_t len = PAYLOAD_HDR + (size_t)(splitmix64(&s) % (max_len - PAYLOAD_HDR + 1));
	if (i % 97 == 5)
		len = max_len; /* the largest, now and then */
	char hdr[PAYLOAD_HDR + 1];
	snprintf(hdr, sizeof(hdr), "#%08u.", (unsigned)(i % 100000000u));
	memcpy(buf, hdr, PAYLOAD_HDR);
	for (size_t k = PAYLOAD_HDR; k < len; k++) {
		uint64_t r = splitmix64(&s);
		buf[k] = (r & 3) == 0 ? 0 : (unsigned char)(r >> 8);
	}
	return len;
}

/* The index in a payload's header, or -1 (empty or not ours). */
static inline long payload_index(const void *data, size_t len)
{
	const char *p = data;
	if (len < PAYLOAD_HDR || p[0] != '#' || p[PAYLOAD_HDR - 1] != '.')
		return -1;
	long v = 0;
	for (int k = 1; k < PAYLOAD_HDR - 1; k++) {
		if (p[k] < '0' || p[k] > '9')
			return -1;
		v = v * 10 + (p[k] - '0');
	}
	return v;
}

static inline int is_error_reply(const void *data, size_t len)
{
	return len >= ERR_PREFIX_LEN && memcmp(data, ERR_PREFIX, ERR_PREFIX_LEN) == 0;
}

/* Outcome of each request, as the requesters track it. */
enum { ST_UNSENT, ST_PENDING, ST_OK, ST_TIMEOUT, ST_ERROR, ST_NORESP, ST_SENDFAIL };

struct tally {
	unsigned long ok, timeout, error, noresp, sendfail, late, dup, corrupt, bogus;
};

static inline void tally_print(const struct tally *t, unsigned long n, long ms)
{
	unsigned long failed = t->timeout + t->error + t->noresp + t->sendfail;
	printf("requests=%lu ok=%lu failed=%lu (timeout=%lu error=%lu noresp=%lu sendfail=%lu) "
	       "late=%lu dup=%lu corrupt=%lu bogus=%lu ms=%ld\n",
	       n, t->ok, failed, t->timeout, t->error, t->noresp, t->sendfail, t->late, t->dup,
	       t->corrupt, t->bogus, ms);
}

#endif
