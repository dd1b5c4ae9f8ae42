/* SPDX-License-Identifier: MIT */
/* Stamping and verifying benchmark messages: see the comment in bench.h. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define GOLDEN 0x9e3779b97f4a7c15ull
#define MUL 0xff51afd7ed558ccdull

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= MUL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static inline uint64_t rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t ld64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t ld32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline void st32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Four independent lanes so the multiplies overlap: several GB/s, cheap
 * next to any transport, yet every payload byte changes the result. */
static uint64_t fullsum(const unsigned char *p, size_t n)
{
	uint64_t a = GOLDEN, b = ~GOLDEN, c = MUL, d = ~MUL;
	size_t len = n;
	for (; n >= 32; n -= 32, p += 32) {
		a = rotl((a ^ ld64(p)) * MUL, 29);
		b = rotl((b ^ ld64(p + 8)) * MUL, 29);
		c = rotl((c ^ ld64(p + 16)) * MUL, 29);
		d = rotl((d ^ ld64(p + 24)) * MUL, 29);
	}
	for (; n >= 8; n -= 8, p += 8)
		a = rotl((a ^ ld64(p)) * MUL, 29);
	for (; n; n--, p++)
		b = rotl((b ^ *p) * MUL, 29);
	return mix64(a ^ rotl(b, 16) ^ rotl(c, 32) ^ rotl(d, 48) ^ len);
}

static void fill_pattern(unsigned char *p, size_t n, uint32_t seq)
{
	uint64_t x = mix64(seq ^ GOLDEN);
	for (; n >= 8; n -= 8, p += 8) {
		x += GOLDEN;
		uint64_t w = x ^ (x >> 29);
		memcpy(p, &w, 8);
	}
	for (; n; n--, p++)
		*p = (unsigned char)(x >> (n * 8));
}

/* Cheap on purpose (a multiply or two): it runs on every message, and the
 * bench must measure the transport, not itself. The strong check is the
 * full checksum every MSG_FULL_EVERY messages. */
static inline uint32_t check_word(uint32_t seq, size_t len, uint64_t sum)
{
	uint64_t x = ((uint64_t)seq << 32 | (uint32_t)len) ^ sum;
	return (uint32_t)((x * MUL) >> 32) ^ (uint32_t)(sum >> 32);
}

/* The first and last (up to) 8 payload bytes, derived from seq. */
static inline void edge_words(uint32_t seq, uint64_t *first, uint64_t *last)
{
	*first = ((uint64_t)seq + 1) * GOLDEN;
	*last = ((uint64_t)seq + 1) * MUL;
}

uint32_t msg_seq(const void *buf)
{
	return ld32(buf);
}


void msg_stamp(void *buf, size_t len, uint32_t seq)
{
	unsigned char *b = buf;
	size_t p = len - 8, e = p < 8 ? p : 8;
	int full = msg_is_full(seq);
	uint64_t first, last;

	if (full)
		fill_pattern(b + 8, p, seq);
	edge_words(seq, &first, &last);
	if (p >= 8) {
		/* Fixed-size copies compile to plain stores. */
		memcpy(b + 8, &first, 8);
		memcpy(b + len - 8, &last, 8);
	} else if (e) {
		memcpy(b + 8, &first, e);
		memcpy(b + len - e, &last, e);
	}
	st32(b, seq);
	st32(b + 4, check_word(seq, len, full ? fullsum(b + 8, p) : 0));
}

int msg_check(const void *buf, size_t len, size_t want, uint32_t seq, char *err, size_t n)
{
	const unsigned char *b = buf;
	if (len != want) {
		snprintf(err, n, "message %u has %zu bytes, expected %zu", seq, len, want);
		return -1;
	}
	uint32_t got = ld32(b);
	if (got != seq) {
		if (seq < SEQ_ACK && got < seq)
			snprintf(err, n, "duplicated or reordered message: got seq %u, expected %u",
				 got, seq);
		else if (seq < SEQ_ACK && got < SEQ_ACK)
			snprintf(err, n, "lost %u message(s): got seq %u, expected %u", got - seq,
				 got, seq);
		else
			snprintf(err, n, "unexpected message: got seq %#x, expected %#x", got, seq);
		return -1;
	}
	size_t p = len - 8, e = p < 8 ? p : 8;
	uint64_t first, last, f = 0, l = 0;
	edge_words(seq, &first, &last);
	if (p >= 8) {
		f = ld64(b + 8);
		l = ld64(b + len - 8);
	} else if (e) {
		memcpy(&f, b + 8, e);
		memcpy(&l, b + len - e, e);
	}
	/* The last bytes are written after the first: where they overlap
	 * (payload under 16 bytes) compare what the sender left there. */
	if (p >= 16 && f != first) {
		snprintf(err, n, "message %u corrupted: first payload bytes", seq);
		return -1;
	}
	if (p >= 8 ? l != last : e && memcmp(&l, &last, e) != 0) {
		snprintf(err, n, "message %u corrupted: last payload bytes", seq);
		return -1;
	}
	if (!msg_is_full(seq) && ld32(b + 4) != check_word(seq, len, 0)) {
		snprintf(err, n, "message %u corrupted: header check word", seq);
		return -1;
	}
	return 0;
}

int msg_check_full(const void *buf, size_t len, char *err, size_t n)
{
	const unsigned char *b = buf;
	uint32_t seq = ld32(b);
	if (!msg_is_full(seq))
		return 0;
	if (ld32(b + 4) != check_word(seq, len, fullsum(b + 8, len - 8))) {
		snprintf(err, n, "message %u corrupted: payload checksum mismatch", seq);
		return -1;
	}
	return 0;
}
