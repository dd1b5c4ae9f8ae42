/* SPDX-License-Identifier: MIT */
/*
 * shmq.h - shared-memory messaging between processes on Linux.
 *
 * Overview
 *   A server creates an endpoint: one shared-memory segment, addressed by a
 *   System V key (as in the classic shmget tutorial) or by a POSIX name (a file
 *   under /dev/shm). Up to `slots` clients attach to it at once; each client
 *   owns a pair of single-producer single-consumer rings inside the segment,
 *   one for requests (client -> server) and one for replies (server -> client).
 *   Messages are byte strings of any length from 0 up to shmq_*_max_msg().
 *   Nothing is ever dropped or overwritten: a full ring makes the sender wait
 *   (or fail with -EAGAIN / -ETIMEDOUT). Waiting spins for a configurable
 *   budget and then sleeps on a futex; a sleeping peer is woken only when it
 *   has said it sleeps, so two busy peers exchange messages without syscalls.
 *
 * Conventions
 *   - Every function returns 0 (or a non-negative count) on success and a
 *     negative errno value on failure; shmq_strerror() describes it. The
 *     library never prints, exits, raises signals or installs handlers.
 *   - Timeouts are in milliseconds: 0 never blocks (-EAGAIN when it would),
 *     SHMQ_FOREVER blocks until done, a positive value fails with -ETIMEDOUT.
 *     A blocking call interrupted by a signal handler returns -EINTR.
 *   - Handles are opaque. One handle is used by one thread at a time; any
 *     number of handles may exist in one process.
 *   - Everything read from shared memory is validated: a peer that breaks the
 *     protocol gets -EPROTO (client side) or is disconnected (server side).
 *
 * Errors worth knowing
 *   -ENOENT      no endpoint with that key or name (client)
 *   -EADDRINUSE  a live server already owns the key or name
 *   -EEXIST      the key or name is taken by something that is not ours to reclaim
 *   -EACCES      permissions or ownership of an existing endpoint are not safe
 *   -EUSERS      every client slot of the endpoint is taken
 *   -EMSGSIZE    message larger than the ring allows, or larger than your buffer
 *   -EPIPE       (client) the server closed or died
 *   -ENOTCONN    (server) the addressed client is gone
 *   -EPROTO      the peer corrupted shared memory
 */
#ifndef SHMQ_H
#define SHMQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMQ_VERSION_MAJOR 0
#define SHMQ_VERSION_MINOR 1
#define SHMQ_VERSION_PATCH 0

#if defined(__GNUC__) && !defined(SHMQ_STATIC_ONLY)
#define SHMQ_API __attribute__((visibility("default")))
#else
#define SHMQ_API
#endif

/* Timeout value meaning "wait as long as it takes". */
#define SHMQ_FOREVER (-1)
/* spin_us value meaning "never sleep": busy-poll for the lowest latency. */
#define SHMQ_SPIN_FOREVER UINT32_MAX

/* Defaults, chosen to reproduce the tutorial's session. */
#define SHMQ_DEFAULT_KEY 1234
#define SHMQ_DEFAULT_MODE 0600u
#define SHMQ_DEFAULT_SLOTS 64u
#define SHMQ_DEFAULT_RING_SIZE 65536u
#define SHMQ_DEFAULT_SPIN_US 50u

/* Limits on the server's geometry. */
#define SHMQ_MAX_SLOTS 1024u
#define SHMQ_MIN_RING_SIZE 256u
#define SHMQ_MAX_RING_SIZE (1u << 30)
/* Longest POSIX name, not counting the leading '/'. */
#define SHMQ_NAME_MAX 200

/* Message flags. */
#define SHMQ_MSG_REQUEST 0x1u /* the sender waits for a reply */

/* trusted_uid: none (the default). */
#define SHMQ_UID_NONE ((uid_t)-1)

/* Where an endpoint lives and how to wait. Fill with shmq_config_init().
 * A client accepts an endpoint owned by its own euid; by trusted_uid, if
 * set; or by root, if mode grants group or other bits. Being able to open a
 * segment is not trusting it (see SECURITY.md). */
typedef struct shmq_config {
	const char *name;  /* POSIX shared-memory name ("/q" or "q"); NULL = System V */
	int key;           /* System V key when name is NULL; not IPC_PRIVATE (0) */
	unsigned mode;     /* permission bits; a client accepts nothing looser */
	unsigned slots;    /* server: number of client slots (1..SHMQ_MAX_SLOTS) */
	size_t ring_size;  /* server: bytes per ring, a power of two */
	uint32_t spin_us;  /* spin this long before sleeping; 0 sleeps at once */
	uid_t trusted_uid; /* client: also accept an endpoint owned by this uid */
} shmq_config;

/* A client as the server knows it; passed by value. gen tells a reused slot
 * apart from its previous owner. */
typedef struct shmq_client_id {
	uint32_t slot;
	uint32_t gen;
} shmq_client_id;

/* A received message. For the view calls, data points into shared memory and
 * stays valid until the matching release call; a hostile peer can still
 * change those bytes under you, so copy what you must trust. */
typedef struct shmq_msg {
	const void *data;
	size_t len;
	shmq_client_id from; /* server side: the sending client */
	uint32_t flags;      /* SHMQ_MSG_* */
} shmq_msg;

/* What the server knows of one client. pid and uid are reported by the
 * client itself and not verified by the kernel (see SECURITY.md). */
typedef struct shmq_client_info {
	shmq_client_id id;
	pid_t pid;
	uid_t uid;
	uint64_t msgs_in;   /* requests received from it */
	uint64_t msgs_out;  /* messages sent to it */
} shmq_client_info;

typedef struct shmq_server shmq_server;
typedef struct shmq_client shmq_client;

/* ---- general ---------------------------------------------------------- */
SHMQ_API void shmq_config_init(shmq_config *cfg);
SHMQ_API const char *shmq_strerror(int err); /* err may be -E or E */
SHMQ_API const char *shmq_version(void);

/* ---- server ----------------------------------------------------------- */
/* Create the endpoint exclusively. A stale endpoint whose server died is
 * reclaimed; a live one gives -EADDRINUSE. */
SHMQ_API int shmq_server_create(shmq_server **out, const shmq_config *cfg);
/* Tell clients the server is gone, remove the segment, free the handle. */
SHMQ_API int shmq_server_close(shmq_server *s);

/* Receive the next message from any client, round-robin between clients.
 * Copies it into buf and returns its length; if cap is too small, returns
 * -EMSGSIZE with msg->len set and leaves the message queued. msg may be NULL. */
SHMQ_API ssize_t shmq_server_recv(shmq_server *s, void *buf, size_t cap,
				  shmq_msg *msg, int timeout_ms);
/* Zero-copy receive: msg->data points into the ring until shmq_server_release. */
SHMQ_API int shmq_server_recv_view(shmq_server *s, shmq_msg *msg, int timeout_ms);
SHMQ_API int shmq_server_release(shmq_server *s, shmq_msg *msg);

/* Send to one client (a reply, or a message of the server's own). */
SHMQ_API int shmq_server_send(shmq_server *s, shmq_client_id to, const void *buf,
			      size_t len, int timeout_ms);
/* Zero-copy send: reserve len bytes in the client's reply ring, fill them,
 * then commit (at most the reserved length). */
SHMQ_API int shmq_server_reserve(shmq_server *s, shmq_client_id to, size_t len,
				 void **buf, int timeout_ms);
SHMQ_API int shmq_server_commit(shmq_server *s, size_t len);
/* Give up the open reservation: nothing is sent. */
SHMQ_API int shmq_server_abort(shmq_server *s);

SHMQ_API size_t shmq_server_max_msg(const shmq_server *s);
/* Connected clients: fills up to n entries, returns how many are connected. */
SHMQ_API int shmq_server_clients(shmq_server *s, shmq_client_info *out, size_t n);
SHMQ_API int shmq_server_client_info(shmq_server *s, shmq_client_id id,
				     shmq_client_info *out);

/* ---- client ----------------------------------------------------------- */
/* Attach to a server's endpoint and claim a slot. -EAGAIN: the server is
 * still writing the endpoint's header; retry. -EPROTO: a live server's header
 * is corrupt (or it is not a shmq server). */
SHMQ_API int shmq_client_connect(shmq_client **out, const shmq_config *cfg);
/* Leave: messages already sent are still delivered. */
SHMQ_API int shmq_client_close(shmq_client *c);

SHMQ_API int shmq_client_send(shmq_client *c, const void *buf, size_t len,
			      int timeout_ms);
/* Receive the next message from the server; -EMSGSIZE as for the server. */
SHMQ_API ssize_t shmq_client_recv(shmq_client *c, void *buf, size_t cap,
				  int timeout_ms);
/* Send with SHMQ_MSG_REQUEST and wait for the next message from the server.
 * Returns the reply's length. The timeout covers both halves. */
SHMQ_API ssize_t shmq_client_request(shmq_client *c, const void *req, size_t len,
				     void *rep, size_t cap, int timeout_ms);
/* Zero-copy: reserve, fill, commit with flags (SHMQ_MSG_REQUEST or 0). */
SHMQ_API int shmq_client_reserve(shmq_client *c, size_t len, void **buf,
				 int timeout_ms);
SHMQ_API int shmq_client_commit(shmq_client *c, size_t len, uint32_t flags);
SHMQ_API int shmq_client_abort(shmq_client *c);
SHMQ_API int shmq_client_recv_view(shmq_client *c, shmq_msg *msg, int timeout_ms);
SHMQ_API int shmq_client_release(shmq_client *c, shmq_msg *msg);

/* 0 if the server is alive, -EPIPE if it closed or died. Costs a syscall. */
SHMQ_API int shmq_client_check(shmq_client *c);
SHMQ_API size_t shmq_client_max_msg(const shmq_client *c);
SHMQ_API shmq_client_id shmq_client_self(const shmq_client *c);

/* ---- administration (shmq stat / shmq rm) ------------------------------ */
typedef struct shmq_endpoint_info {
	int key;                 /* System V key, or 0 for a POSIX endpoint */
	int live;                /* 1 if its server is alive */
	pid_t server_pid;
	uid_t server_uid;
	unsigned mode;
	unsigned slots;
	unsigned clients;        /* slots in use */
	char name[SHMQ_NAME_MAX + 2]; /* POSIX name with its '/', or "" */
	size_t size;             /* bytes in the segment */
	size_t ring_size;
} shmq_endpoint_info;

typedef struct shmq_slot_info {
	unsigned slot;
	uint32_t gen;
	unsigned state;          /* 0 free, 1 connected, 2 leaving */
	pid_t pid;
	uid_t uid;
	int alive;               /* the client's lock is held */
	uint64_t req_bytes, req_depth;  /* bytes sent, bytes queued to the server */
	uint64_t rep_bytes, rep_depth;  /* bytes sent, bytes queued to the client */
	uint64_t msgs_in, msgs_out;     /* as last published by the server */
} shmq_slot_info;

/* Read an endpoint's header and, if slots != NULL, up to n slots. Returns the
 * number of slots in the endpoint. Never modifies anything. */
SHMQ_API int shmq_inspect(const shmq_config *cfg, shmq_endpoint_info *info,
			  shmq_slot_info *slots, size_t n);
/* List endpoints on this machine (System V and /dev/shm). Fills up to n,
 * returns how many exist. */
SHMQ_API int shmq_list(shmq_endpoint_info *out, size_t n);

#define SHMQ_REMOVE_FORCE 0x1u
/* Remove a stale endpoint. A live one gives -EADDRINUSE, and a segment that
 * is not shmq's gives -EEXIST, unless SHMQ_REMOVE_FORCE. */
SHMQ_API int shmq_remove(const shmq_config *cfg, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* SHMQ_H */
