/* SPDX-License-Identifier: MIT */
/*
 * transport.h - the one interface every transport in `shmq bench` implements.
 *
 * A case is (transport, message size, number of clients). For each case the
 * runner calls setup() in the parent, forks one server process and N client
 * processes pinned to CPUs, and calls open() in each. From then on it drives
 * the same message loops (idle wake-up, streaming, ping-pong) over every
 * transport through send() and recv(), or through the zero-copy calls when
 * the transport has them. Finally the parent calls teardown().
 *
 * Adding a transport is one file that defines a `const struct transport` and
 * one line in the table in transports.c.
 *
 * Rules for implementations:
 *   - Every call returns 0 (or a length) or a negative errno.
 *   - send() and recv() block until done; messages keep their boundaries
 *     (stream transports frame them: every message of a case has the
 *     case's size, and recv()'s cap is that size).
 *   - setup() cleans up after itself when it fails; teardown() is only
 *     called after a setup() that succeeded.
 *   - A client talks to the server only; `to` and `from` name a client on
 *     the server side (0..nclients-1) and are ignored / set to 0 on clients.
 *   - Everything a case creates under a name (paths, POSIX names, IPC ids)
 *     derives from tp_case.tag and is removed by teardown(), which must also
 *     work after a child crashed.
 */
#ifndef SHMQ_BENCH_TRANSPORT_H
#define SHMQ_BENCH_TRANSPORT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ROLE_SERVER (-1) /* open(): the server; 0..N-1 are clients */

/* transport.caps */
#define TP_LAT 0x01u      /* measures round-trip latency */
#define TP_TPUT 0x02u     /* measures one-way streaming throughput */
#define TP_MULTI 0x04u    /* one server, many clients */
#define TP_IDLE 0x10u     /* measure the server's CPU use while idle */
#define TP_BUSY 0x20u     /* spins: needs a CPU of its own per process */

struct transport;

struct tp_case {
	const struct transport *t;
	size_t size;       /* message size in bytes, the same for every message */
	unsigned nclients; /* client processes */
	char tag[48];      /* unique in this run: "shmqb-<pid>-<n>" */
	void *priv;        /* set by setup(); children inherit it through fork */
};

/* A reference loop (cache-line or futex ping-pong, memcpy) in place of
 * send/recv: it gets a time budget and fills samples or counters. */
struct ref_run {
	uint64_t budget_ns;
	unsigned warmup;   /* untimed iterations first */
	uint32_t *samples; /* round-trip times in ns */
	size_t max_samples;
	size_t nsamples;
	uint64_t msgs;     /* throughput: copies done */
	uint64_t t0, t1;   /* timed window, CLOCK_MONOTONIC ns */
};

struct transport {
	const char *name;   /* "pipe", "shmq", ... (the --transports filter) */
	const char *mode;   /* "copy", "busy", "block-zc", ... */
	const char *family; /* verdict group: "fifo", "msgq", "shm", "socket", "ref", "other" */
	const char *what;   /* one line for --list */
	unsigned caps;
	uintptr_t arg;        /* free for the implementation (e.g. a mode) */
	const char *missing;  /* non-NULL: not built in, and why */

	/* Parent, before the fork. Return -ENOTSUP and fill note to skip this
	 * size (e.g. over a system limit); any other error fails the case. */
	int (*setup)(struct tp_case *c, char *note, size_t notelen);
	void (*teardown)(struct tp_case *c);

	/* Children. open(ROLE_SERVER) must not wait for clients; clients are
	 * opened after it returned; accept() (optional) then waits for them. */
	int (*open)(struct tp_case *c, int role, void **ep);
	int (*accept)(void *ep);
	void (*close)(void *ep);

	int (*send)(void *ep, unsigned to, const void *buf, size_t len);
	ssize_t (*recv)(void *ep, void *buf, size_t cap, unsigned *from);

	/* Optional zero-copy: reserve len bytes, fill, commit; view, release. */
	int (*reserve)(void *ep, unsigned to, size_t len, void **buf);
	int (*commit)(void *ep, size_t len);
	ssize_t (*recv_view)(void *ep, const void **data, unsigned *from);
	int (*release)(void *ep);

	/* References run their own loops instead (no payload, no checks). */
	int (*ref_client)(void *ep, struct ref_run *r);
	int (*ref_server)(void *ep);
	int (*ref_local)(size_t size, struct ref_run *r); /* one process */
};

/* The table (transports.c). */
extern const struct transport *const bench_transports[];
extern const size_t bench_ntransports;

/* ---- helpers for implementations ---------------------------------------- */

uint64_t bench_now_ns(void);

/* Ring or buffer bytes for a message size, as the shared-memory transports
 * size it: the next power of two >= 4 * size, at least 64 KiB. */
size_t bench_ring_bytes(size_t size);

/* Blocking I/O of exactly len bytes on a stream fd; 0 or -errno (-EPIPE on
 * end of file). */
int fd_write_full(int fd, const void *buf, size_t len);
int fd_read_full(int fd, void *buf, size_t len);

/* Server side of a stream transport with one fd per client: receive one
 * whole message of len bytes from whichever client is ready, serving the
 * ready clients round-robin. */
struct fd_multi {
	int *fds;
	unsigned n;
	unsigned next;    /* round-robin cursor over ready[] */
	unsigned nready;
	unsigned *ready;
	struct pollfd *pfd;
};
int fd_multi_init(struct fd_multi *m, const int *fds, unsigned n);
void fd_multi_free(struct fd_multi *m);
ssize_t fd_multi_recv(struct fd_multi *m, void *buf, size_t len, unsigned *from);

/* Allocate len bytes of page-aligned private memory, touched so that no
 * first-touch page fault lands in a timed loop. NULL on failure. */
void *bench_alloc(size_t len);
void bench_free(void *p, size_t len);

/* Shared anonymous memory inherited by children (MAP_SHARED). */
void *bench_shared_alloc(size_t len);

#endif
