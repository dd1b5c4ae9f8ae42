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
 *   A client sends one-way messages (shmq_client_send) or requests, each
 *   tagged with a 64-bit id the client library picks; the server answers a
 *   request with shmq_server_reply, which carries the id back, so a reply
 *   always reaches the request it answers, in any order, however many are
 *   outstanding. The server can also push messages of its own
 *   (shmq_server_send), which the client takes with shmq_client_recv.
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
 *   -EPROTONOSUPPORT  the endpoint was made by a shmq with another layout
 *                major version (shmq_inspect says which)
 *   -ESHUTDOWN   (server) shmq_server_shutdown was called and every message
 *                sent before it has been received; (connect) the server is
 *                shutting down
 *   -EINPROGRESS (client) the request was sent but its reply did not come
 *                before the timeout: it is abandoned, its reply discarded
 *   -ENOBUFS     (client) too many requests outstanding, or too much held
 *                aside while waiting for a reply (see shmq_client_recv_reply)
 *
 * ABI
 *   Structs that callers allocate (shmq_config, shmq_msg, the info structs)
 *   end in reserved space that later versions may give meaning to, so new
 *   fields do not change their size. Zero it: shmq_config_init does, and
 *   = { 0 } or memset does for the others.
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
#define SHMQ_VERSION_MINOR 2
#define SHMQ_VERSION_PATCH 0
/* The segment layout (major version) this library reads and writes. shmq
 * 0.1 wrote layout 1; endpoints of another layout are refused with
 * -EPROTONOSUPPORT, and shmq_inspect says which layout they have. */
#define SHMQ_LAYOUT 2

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

/* Message flags (shmq_msg.flags). */
#define SHMQ_MSG_REQUEST 0x1u /* server side: a request; answer it with shmq_server_reply */
#define SHMQ_MSG_REPLY 0x2u   /* client side: the reply to request msg.id */

/* shmq_client_recv_reply: take the reply to whichever request comes first. */
#define SHMQ_ANY_REQUEST UINT64_MAX
/* Requests a client may have outstanding at once. */
#define SHMQ_MAX_INFLIGHT 4096u

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
	uint64_t reserved_[8]; /* zeroed by shmq_config_init; for later fields */
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
	uint64_t id;         /* the request's id (SHMQ_MSG_REQUEST, SHMQ_MSG_REPLY), else 0 */
	uint64_t reserved_[2];
} shmq_msg;

/* What the server knows of one client. pid and uid are reported by the
 * client itself and not verified by the kernel (see SECURITY.md). */
typedef struct shmq_client_info {
	shmq_client_id id;
	pid_t pid;
	uid_t uid;
	uint64_t msgs_in;   /* messages received from it */
	uint64_t msgs_out;  /* messages sent to it */
	uint64_t reserved_[6];
} shmq_client_info;

/* What a client knows of its own traffic. */
typedef struct shmq_client_stats {
	uint64_t msgs_out;     /* messages and requests sent */
	uint64_t msgs_in;      /* replies and messages received */
	uint64_t inflight;     /* requests sent and not yet answered or abandoned */
	uint64_t late_replies; /* replies to abandoned requests, discarded */
	uint64_t held;         /* messages held aside (received out of order) */
	uint64_t reserved_[3];
} shmq_client_stats;

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
/* Graceful stop, step 1: refuse new clients and new messages from now on.
 * Every message committed to a ring before this call is still handed out by
 * shmq_server_recv*; once they all have been, those calls return -ESHUTDOWN.
 * Replies and sends keep working, so requests drained this way can be
 * answered. Clients that wait in shmq_client_flush learn whether all they
 * sent was taken. Call it once; a second call returns -EALREADY. */
SHMQ_API int shmq_server_shutdown(shmq_server *s);
/* Tell clients the server is gone, remove the segment, free the handle.
 * Messages still queued in request rings are discarded (their senders'
 * shmq_client_flush fails with -EPIPE); replies already committed stay
 * readable by their clients. To lose nothing, shmq_server_shutdown first and
 * receive until -ESHUTDOWN. */
SHMQ_API int shmq_server_close(shmq_server *s);

/* Receive the next message from any client, round-robin between clients.
 * Copies it into buf and returns its length; if cap is too small, returns
 * -EMSGSIZE with msg->len set and leaves the message queued. msg may be NULL. */
SHMQ_API ssize_t shmq_server_recv(shmq_server *s, void *buf, size_t cap,
				  shmq_msg *msg, int timeout_ms);
/* Zero-copy receive: msg->data points into the ring until shmq_server_release.
 * The view stays valid until then even if the client is disconnected
 * meanwhile: its slot is not reused while the view is held. */
SHMQ_API int shmq_server_recv_view(shmq_server *s, shmq_msg *msg, int timeout_ms);
SHMQ_API int shmq_server_release(shmq_server *s, shmq_msg *msg);

/* Answer a request (req as filled by shmq_server_recv*, SHMQ_MSG_REQUEST set;
 * only from, id and flags are read, so it may be used after release). The
 * reply carries req->id back to the client. -ENOTCONN if the client left. */
SHMQ_API int shmq_server_reply(shmq_server *s, const shmq_msg *req, const void *buf,
			       size_t len, int timeout_ms);
/* Send a message of the server's own to one client (shmq_client_recv). */
SHMQ_API int shmq_server_send(shmq_server *s, shmq_client_id to, const void *buf,
			      size_t len, int timeout_ms);
/* Zero-copy send: reserve len bytes in the client's reply ring, fill them,
 * then commit (at most the reserved length). reserve makes a message of the
 * server's own, reserve_reply the answer to req. */
SHMQ_API int shmq_server_reserve(shmq_server *s, shmq_client_id to, size_t len,
				 void **buf, int timeout_ms);
SHMQ_API int shmq_server_reserve_reply(shmq_server *s, const shmq_msg *req, size_t len,
				       void **buf, int timeout_ms);
/* -ENOTCONN if the client was disconnected since the reservation: nothing
 * is sent, and the reservation is closed. */
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
 * is corrupt (or it is not a shmq server). -ECONNREFUSED: no live server.
 * -ESHUTDOWN: the server is shutting down. */
SHMQ_API int shmq_client_connect(shmq_client **out, const shmq_config *cfg);
/* Leave at once. Messages already sent are still served by a server that
 * keeps running, but close does not wait for that and cannot tell whether it
 * happened: call shmq_client_flush first to know. Replies not yet received
 * are dropped. */
SHMQ_API int shmq_client_close(shmq_client *c);
/* Linger: wait until the server has received every message and request this
 * client sent. 0 when it has; -EPIPE if the server closed or died first
 * (what it had not taken is lost, and this is how you learn it);
 * -ETIMEDOUT; -EAGAIN with timeout 0 when not yet. */
SHMQ_API int shmq_client_flush(shmq_client *c, int timeout_ms);

/* One-way message to the server. */
SHMQ_API int shmq_client_send(shmq_client *c, const void *buf, size_t len,
			      int timeout_ms);
/* Receive the next message the server sent of its own (shmq_server_send);
 * replies are not returned here but kept for shmq_client_recv_reply.
 * -EMSGSIZE as for the server. */
SHMQ_API ssize_t shmq_client_recv(shmq_client *c, void *buf, size_t cap,
				  int timeout_ms);

/* Request and wait for its reply: returns the reply's length. The timeout
 * covers both halves. Any error but the ones below means nothing was sent.
 * -EINPROGRESS: it was sent but its reply did not come (timeout, a signal
 * (-EINTR's case), or -ENOBUFS's): the request is abandoned and its reply,
 * if it comes, discarded (counted in shmq_client_stats.late_replies), never
 * returned for another. -EPIPE, -ECONNRESET, -EPROTO after sending: the
 * connection is gone; the server may or may not have taken it. -EMSGSIZE:
 * the reply is larger than cap; it is kept, as the first one that
 * shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, ...) returns. */
SHMQ_API ssize_t shmq_client_request(shmq_client *c, const void *req, size_t len,
				     void *rep, size_t cap, int timeout_ms);
/* Pipelining: send a request and get its id, collect replies later, in any
 * order. At most SHMQ_MAX_INFLIGHT requests outstanding (-ENOBUFS). */
SHMQ_API int shmq_client_send_request(shmq_client *c, const void *req, size_t len,
				      uint64_t *id, int timeout_ms);
/* Receive the reply to request id, or to any outstanding request with
 * SHMQ_ANY_REQUEST; msg (may be NULL) gets its id and length. Messages that
 * arrive first (replies to other requests, the server's own messages) are
 * copied aside, in private memory, for the calls that want them; if that
 * would hold more than 16 ring sizes, -ENOBUFS (receive the others first).
 * -ENOENT: no such request outstanding. -ETIMEDOUT: not yet; the request
 * stays outstanding. */
SHMQ_API ssize_t shmq_client_recv_reply(shmq_client *c, uint64_t id, void *buf, size_t cap,
					shmq_msg *msg, int timeout_ms);
SHMQ_API int shmq_client_recv_reply_view(shmq_client *c, uint64_t id, shmq_msg *msg,
					 int timeout_ms);
/* Abandon an outstanding request: its reply, if it comes, is discarded. */
SHMQ_API int shmq_client_cancel(shmq_client *c, uint64_t id);

/* Zero-copy: reserve a one-way message or a request, fill it, then commit
 * at most the reserved length. A request's id is stored in *id (id may be
 * NULL for a one-way message). */
SHMQ_API int shmq_client_reserve(shmq_client *c, size_t len, void **buf,
				 int timeout_ms);
SHMQ_API int shmq_client_reserve_request(shmq_client *c, size_t len, void **buf,
					 int timeout_ms);
SHMQ_API int shmq_client_commit(shmq_client *c, size_t len, uint64_t *id);
SHMQ_API int shmq_client_abort(shmq_client *c);
/* Zero-copy receive (as shmq_client_recv); the view is released with
 * shmq_client_release, as is a reply view. */
SHMQ_API int shmq_client_recv_view(shmq_client *c, shmq_msg *msg, int timeout_ms);
SHMQ_API int shmq_client_release(shmq_client *c, shmq_msg *msg);

/* 0 if the server is alive, -EPIPE if it closed or died. Costs a syscall. */
SHMQ_API int shmq_client_check(shmq_client *c);
SHMQ_API size_t shmq_client_max_msg(const shmq_client *c);
SHMQ_API shmq_client_id shmq_client_self(const shmq_client *c);
SHMQ_API int shmq_client_stat(const shmq_client *c, shmq_client_stats *out);

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
	unsigned layout_major;   /* of the segment, also when not supported */
	unsigned layout_minor;
	unsigned state;          /* 0 starting, 1 ready, 2 shutting down, 3 closed */
	uint64_t features;       /* layout feature flags */
	uint64_t reserved_[6];
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
	uint64_t late_replies;          /* as last published by the client */
	uint64_t reserved_[6];
} shmq_slot_info;

/* Read an endpoint's header and, if slots != NULL, up to n slots. Returns the
 * number of slots in the endpoint. Never modifies anything. For a segment of
 * another layout major version, fills key/name, live, layout_major and
 * layout_minor and returns -EPROTONOSUPPORT. */
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
