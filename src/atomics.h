/* SPDX-License-Identifier: MIT */
/*
 * The few memory-ordering primitives shmq uses. Every call site names, in a
 * comment, the operation on the other side it pairs with.
 */
#ifndef SHMQ_ATOMICS_H
#define SHMQ_ATOMICS_H

#include <stdatomic.h>
#include <stdint.h>

#define load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
/* Full barrier: orders an earlier store before a later load (Dekker). */
#define smp_mb() atomic_thread_fence(memory_order_seq_cst)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

#endif
