/* SPDX-License-Identifier: MIT */
/*
 * Spin-then-sleep waiting on a futex event count (struct event, layout.h).
 *
 * Protocol, for a sleeper S waiting for condition C that a waker W makes true:
 *   S: seq = load_acquire(ev->seq); waiting = 1; smp_mb(); if C: done;
 *      futex_wait(ev->seq, seq, bounded)
 *   W: make C true (release store); smp_mb(); if waiting: waiting = 0,
 *      seq++, futex_wake(ev->seq)
 * The two full barriers make it impossible for S to miss C while W misses
 * `waiting` (store-buffer litmus test); if W bumps seq after S read it, the
 * futex_wait returns at once. So W pays a syscall only when S sleeps.
 * Sleeps are bounded (SHMQ_WAIT_SLICE_MS) so that a sleeper re-checks that
 * its peer is still alive.
 *
 * The `waiting` flag need not sit beside the futex word. A client sleeps on
 * its own slot's event (both in the slot). The server sleeps on one word in
 * the header, but says that it sleeps in every client's slot (srv.waiting):
 * each client checks only its own slot, so no client can hide the server's
 * sleep from another (issue: one write to a shared flag used to slow every
 * client to a wake-up per 100 ms).
 */
#ifndef SHMQ_WAIT_H
#define SHMQ_WAIT_H

#include <stdint.h>

#include "atomics.h"
#include "layout.h"

#define SHMQ_WAIT_SLICE_MS 100

uint64_t shmq__now_ns(void);

/* Deadlines for shmq__wait: 0 = poll once, UINT64_MAX = forever, otherwise
 * an absolute CLOCK_MONOTONIC time in ns, or SHMQ__REL | milliseconds, which
 * shmq__wait turns into an absolute time only if it has to wait: a call that
 * finds its ring ready does not read the clock. */
#define SHMQ__REL (1ull << 63)

static inline uint64_t shmq__deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return UINT64_MAX;
	return timeout_ms == 0 ? 0 : SHMQ__REL | (uint64_t)timeout_ms;
}

/* The same, fixed now: for a deadline shared by several waits. */
static inline uint64_t shmq__deadline_now(int timeout_ms)
{
	if (timeout_ms <= 0)
		return shmq__deadline(timeout_ms);
	return shmq__now_ns() + (uint64_t)timeout_ms * 1000000ull;
}

void shmq__futex_wake(_Atomic uint32_t *word);

/* Wake whoever sleeps on seq if its flag `waiting` says it does. Call after
 * publishing. never_sleeps: the sleeper busy-polls, skip everything. */
static inline void wake_if_waiting(_Atomic uint32_t *waiting, _Atomic uint32_t *never_sleeps,
				   _Atomic uint32_t *seq)
{
	if (load_relaxed(never_sleeps))
		return;
	/* Pairs with the smp_mb in shmq__wait: either the sleeper's re-check
	 * sees what we just published, or we see its waiting flag here. */
	smp_mb();
	if (load_relaxed(waiting) && atomic_exchange_explicit(waiting, 0, memory_order_relaxed)) {
		atomic_fetch_add_explicit(seq, 1, memory_order_release);
		shmq__futex_wake(seq);
	}
}

/* Server -> client: wake the client sleeping on its slot's event. */
static inline void event_signal(struct event *ev)
{
	wake_if_waiting(&ev->waiting, &ev->never_sleeps, &ev->seq);
}

/* Client -> server: wake the server if this client's slot says it sleeps. */
static inline void server_signal(struct srv_side *srv, _Atomic uint32_t *srv_seq)
{
	wake_if_waiting(&srv->waiting, &srv->never_sleeps, srv_seq);
}

/* Wake the server whatever the flags say (connect and leave: rare). */
static inline void server_ring(_Atomic uint32_t *srv_seq)
{
	atomic_fetch_add_explicit(srv_seq, 1, memory_order_release);
	shmq__futex_wake(srv_seq);
}

/* What a waiter sleeps on: the futex word, and how to say that it sleeps
 * (arm(arg, 1)) or no longer does (arm(arg, 0)). wake_at, if not NULL and
 * not 0, is a CLOCK_MONOTONIC time the owner needs to be awake by (poll or
 * arm may set it). */
struct sleeper {
	_Atomic uint32_t *seq;
	void (*arm)(void *arg, uint32_t on);
	void *arg;
	const uint64_t *wake_at;
};

/* For a client: the flag is in the event beside its word. */
void shmq__event_arm(void *ev, uint32_t on);
static inline struct sleeper event_sleeper(struct event *ev)
{
	return (struct sleeper){ &ev->seq, shmq__event_arm, ev, NULL };
}

/* The condition: returns -EAGAIN while not ready; anything else ends the
 * wait and is returned. */
typedef int (*shmq_poll_fn)(void *ctx);
/* Called each time a sleep slice ends (about every 100 ms while asleep):
 * returns 0 to go on waiting or a negative errno to give up (dead peer). */
typedef int (*shmq_check_fn)(void *ctx);

/* Wait until poll() is ready, spinning for spin_us first. deadline as from
 * shmq__deadline; 0 means poll once. Returns poll's result, -ETIMEDOUT,
 * -EINTR, or check's error. */
int shmq__wait(const struct sleeper *sl, shmq_poll_fn poll, shmq_check_fn check, void *ctx,
	       uint32_t spin_us, uint64_t deadline);

#endif
