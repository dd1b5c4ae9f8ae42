/* SPDX-License-Identifier: MIT */
#include "wait.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How long a spin goes before it offers the CPU to others (sched_yield). */
#define SHMQ_SPIN_YIELD_NS 5000ull

uint64_t shmq__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
static int futex_wait(_Atomic uint32_t *word, uint32_t expect, uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expect, &ts, NULL, 0) == 0)
		return 0;
	return -errno;
}

void shmq__futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* The peer is gone (check failed), but it may have published what we wait
 * for just before: poll once more, after check's loads, before giving up. */
static int last_poll(shmq_poll_fn poll, void *ctx, int err)
{
	int rc = poll(ctx);
	return rc == -EAGAIN ? err : rc;
}

void shmq__event_arm(void *ev, uint32_t on)
{
	store_relaxed(&((struct event *)ev)->waiting, on);
}

int shmq__wait(const struct sleeper *sl, shmq_poll_fn poll, shmq_check_fn check, void *ctx,
	       uint32_t spin_us, uint64_t deadline)
{
	int rc = poll(ctx);
	if (rc != -EAGAIN || deadline == 0)
		return rc;
	if (deadline != UINT64_MAX && (deadline & SHMQ__REL))
		deadline = shmq__now_ns() + (deadline & ~SHMQ__REL) * 1000000ull;

	/* Spin: no syscalls and no stores to shared memory. The clock is read
	 * every 64 rounds only (a vDSO call, but not free). No PAUSE between
	 * rounds: on the machines we measured it (shmq bench) it costs a third
	 * of the busy-poll round trip, and the spin is bounded by spin_us. */
	if (spin_us) {
		uint64_t start = shmq__now_ns(), next_yield = start + SHMQ_SPIN_YIELD_NS;
		uint64_t spin_end = spin_us == UINT32_MAX ? UINT64_MAX
							  : start + (uint64_t)spin_us * 1000;
		for (unsigned n = 1;; n++) {
			rc = poll(ctx);
			if (rc != -EAGAIN)
				return rc;
			if ((n & 63) == 0) {
				uint64_t now = shmq__now_ns();
				if (now >= deadline)
					return -ETIMEDOUT;
				if (now >= spin_end)
					break;
				/* A busy-poller never sleeps, so it offers the CPU
				 * now and then instead: free when the CPU is ours
				 * alone, and when it is not, the peer we wait for
				 * may be the one queued behind us. Never within a
				 * round trip's time. (A bounded spin does not: it
				 * sleeps soon, and a woken sleeper gets the CPU back
				 * promptly, where a yielder loses its share.) */
				if (spin_us == UINT32_MAX && now >= next_yield) {
					sched_yield();
					next_yield = now + SHMQ_SPIN_YIELD_NS;
				}
				if ((n & 0xffff) == 0 && check && (rc = check(ctx)) != 0)
					return last_poll(poll, ctx, rc);
			}
		}
	}

	uint64_t next_check = shmq__now_ns() + (uint64_t)SHMQ_WAIT_SLICE_MS * 1000000ull;
	for (;;) {
		/* Read seq before the re-check: a wake after this point changes
		 * seq, so the futex_wait below returns at once. */
		uint32_t seq = load_acquire(sl->seq);
		sl->arm(sl->arg, 1);
		/* Pairs with the smp_mb in event_signal (see wait.h). */
		smp_mb();
		rc = poll(ctx);
		if (rc != -EAGAIN)
			break;

		uint64_t now = shmq__now_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		uint64_t slice = (uint64_t)SHMQ_WAIT_SLICE_MS * 1000000ull;
		if (deadline - now < slice)
			slice = deadline - now;
		/* Only a time still ahead counts: the poll above has just done
		 * whatever was due. */
		if (sl->wake_at && *sl->wake_at > now && *sl->wake_at - now < slice)
			slice = *sl->wake_at - now;
		int w = futex_wait(sl->seq, seq, slice);
		if (w == -EINTR) {
			rc = -EINTR;
			break;
		}
		/* Whatever woke us (a timeout, a wake, a peer that rings for
		 * nothing), check the peer at least once a slice. */
		if (check && (w == -ETIMEDOUT || shmq__now_ns() >= next_check)) {
			next_check = shmq__now_ns() + (uint64_t)SHMQ_WAIT_SLICE_MS * 1000000ull;
			if ((rc = check(ctx)) != 0) {
				rc = last_poll(poll, ctx, rc);
				break;
			}
		}
	}
	sl->arm(sl->arg, 0);
	return rc;
}
