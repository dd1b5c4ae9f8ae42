/* SPDX-License-Identifier: MIT */
/*
 * Minimal test harness: one program per concern, exit 0 pass, 1 fail, 77 skip.
 * Every test arms an alarm so nothing can hang; keys and names derive from the
 * pid so tests can run in parallel.
 */
#ifndef SHMQ_TEST_HARNESS_H
#define SHMQ_TEST_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmq.h"

#define SKIP_CODE 77

/* 1 under AddressSanitizer or ThreadSanitizer (gcc or clang): tests that
 * count in millions run fewer rounds there. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static int harness_failures __attribute__((unused));

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

/* Compare two integer expressions, printing both on failure. */
#define CHECK_EQ(a, b)                                                                       \
	do {                                                                                 \
		long long va_ = (long long)(a), vb_ = (long long)(b);                        \
		if (va_ != vb_) {                                                            \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld%s%s\n", \
				__FILE__, __LINE__, #a, va_, #b, vb_,                        \
				va_ < 0 ? " / " : "", va_ < 0 ? shmq_strerror((int)va_) : ""); \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

#define SKIP(...)                                                                            \
	do {                                                                                 \
		fprintf(stderr, "SKIP: " __VA_ARGS__);                                       \
		fputc('\n', stderr);                                                         \
		exit(SKIP_CODE);                                                             \
	} while (0)

/* Kill the whole test (and, via the process group, its children) if it
 * takes longer than seconds. */
static void harness_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "TIMEOUT: test took too long\n";
	ssize_t w = write(2, msg, sizeof(msg) - 1);
	(void)w;
	_exit(1);
}

static inline void test_timeout(unsigned seconds)
{
	signal(SIGALRM, harness_alarm);
	alarm(seconds);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A System V key unique to this process (and n, for several per test). */
static inline int test_key(int n)
{
	return (int)(0x5e000000u | (((unsigned)getpid() & 0xffffu) << 4) | ((unsigned)n & 0xfu));
}

/* A POSIX name unique to this process; static buffer per n (0..3). */
static inline const char *test_name(int n)
{
	static char buf[4][64];
	snprintf(buf[n & 3], sizeof(buf[0]), "shmq-test-%d-%d", (int)getpid(), n);
	return buf[n & 3];
}

/* Config for endpoint n of this test: System V when posix == 0. */
static inline shmq_config test_config(int n, int posix)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	if (posix)
		cfg.name = test_name(n);
	else
		cfg.key = test_key(n);
	return cfg;
}

/* Wait for a child with a deadline; returns its wait status, or -1 on
 * timeout (after killing it). */
static inline int wait_child(pid_t pid, unsigned timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		if (now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(1000); /* polling a child's exit, not synchronising data */
	}
}

/* Deterministic pseudo-random bytes (xorshift), for payloads. */
static inline uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline void fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(xorshift64(&s) >> 24);
}

/* FNV-1a, for payload checksums. */
static inline uint64_t fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

#endif
