/* SPDX-License-Identifier: MIT */
/*
 * Chaos test: one server and N clients doing checksummed request/reply while
 * a driver SIGKILLs, SIGSTOPs/SIGCONTs and restarts them at random.
 *
 * Roles (one program, see main.c):
 *   driver  runs phases (alternating System V and POSIX endpoints), spawns the
 *           others, injects the faults, stops everything gracefully at the end
 *           of each phase and runs the checker on the logs;
 *   server  serves requests and one-way messages, logging each one before it
 *           answers (some requests out of order, later); on SIGTERM it stops
 *           gracefully: shmq_server_shutdown, receive until -ESHUTDOWN, close;
 *   client  sends requests (one at a time or pipelined) and one-way messages
 *           with fresh sequence numbers, logging every reply it verified
 *           against the very request it asked for, every request it
 *           abandoned, every message a flush told it the server took, and
 *           every call's duration;
 *   check   the checker alone, on a phase's log directory.
 *
 * Logs: every process appends fixed-size binary records (struct rec) with one
 * write(2) each to an O_APPEND file, so a SIGKILL can lose at most the record
 * being written, never a buffered batch. The checker reads only the logs.
 */
#ifndef CHAOS_H
#define CHAOS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmq.h"

#define CHAOS_MAX_CLIENTS  32
#define CHAOS_SLOTS	   16	/* fewer than the default: dead slots must be reclaimed */
#define CHAOS_RING	   8192 /* small: records wrap and rings fill often */
#define CHAOS_CALL_MS	   500	/* timeout of most client calls */
#define CHAOS_LONG_CALL_MS 3000 /* of one in eight: long enough to see -EPIPE come */
#define CHAOS_DEAD_MS	   1000 /* a call must fail this soon after its server died */
#define CHAOS_SRV_RECV_MS  200	/* the server wakes up at least this often */
#define CHAOS_SLACK_MS	   1000 /* a call may overrun its timeout by this much */
#define CHAOS_RSS_WARMUP   2	/* samples (seconds) before the RSS baseline */
#define CHAOS_WINDOW	   16	/* most requests a pipelining client has outstanding */
#define CHAOS_DEFER	   8	/* most requests the server holds back */

/* ---- log records --------------------------------------------------------- */

enum rec_type {
	R_START = 1, /* a process started: val = spin_us (server: its shmid or -1) */
	R_EXIT,	     /* graceful exit (server: after draining; aux = messages drained) */
	R_CONNECT,   /* client connected: val = slot << 32 | gen, conn = its number */
	R_CALL,	     /* client: a call that failed (flag: CALL_*, whether the message
		      * was sent; OP_FLUSH: val = time of the connection's last commit,
		      * aux = messages the flush would have covered); server: a call that
		      * overran its timeout, or a reply or push that failed (val = client
		      * inc, seq, conn: the request's) */
	R_ACK,	     /* client: reply (or push) verified: seq = the request it answers,
		      * val = the request checksum the reply names, id, conn, aux = the
		      * library's late_replies count then; flag: ACK_* */
	R_PROC,	     /* server: request or message received and checked, logged before
		      * the view is released: val = its checksum, rc = client inc, id,
		      * conn; flag: PROC_* */
	R_RSS,	     /* server, every second: val = VmRSS in kB, seq = open fds */
	R_VIOL,	     /* a violation seen in-process: op = enum viol */
	R_STOP,	     /* driver: pid was stopped from t0 for dur_us */
	R_KILL,	     /* driver: pid got signal rc */
	R_SPAWN,     /* driver: pid started as (op = role, cid, inc) */
	R_GAP,	     /* client: a push came while an earlier one-way message on the
		      * same connection (seq) got none; the checker asks the server's
		      * log why */
	R_STALL,     /* watchdog: nobody ran from t0 for dur_us (machine stall) */
	R_FLUSH,     /* client: messages and requests seq..val (every one this
		      * connection sent in that range), conn, were covered by a
		      * shmq_client_flush that returned 0 (t0, dur_us: the flush) */
	R_ABANDON,   /* client: request seq (id, conn) abandoned: -EINPROGRESS (flag 0)
		      * or our own shmq_client_cancel (flag 1); aux = late_replies */
	R_REPLY,     /* server: a request it held back is answered now, out of order
		      * (seq, cid, rc = client inc, id, conn) */
	R_SHUTDOWN,  /* server: calls shmq_server_shutdown now (t0) */
};

/* R_CALL flag: did the failed call send its message? */
#define CALL_UNSENT 0 /* no: the API says nothing was sent */
#define CALL_SENT   1 /* yes: the failure came after (the receive half) */
#define CALL_NA	    2 /* not a sending call, or no way to tell */

/* R_ACK flag bits. */
#define ACK_LATE  0x1 /* a push to an earlier one-way message whose wait timed out */
#define ACK_PUSH  0x2 /* a push (shmq_server_send), not a reply */
#define ACK_OOO	  0x4 /* came before the reply to an older outstanding request */

/* R_PROC flag bits. */
#define PROC_DEFERRED 0x1 /* its reply is held back and comes later (R_REPLY) */
#define PROC_REQUEST  0x2 /* a request (else a one-way message) */
#define PROC_PUSH     0x4 /* one-way, answered with a push */
#define PROC_DRAIN    0x8 /* received after shmq_server_shutdown */

/* Calls, for R_CALL/R_ACK records; in a message, how it was sent. */
enum op {
	OP_NONE,
	OP_CONNECT,
	OP_REQUEST,   /* shmq_client_request */
	OP_ZEROCOPY,  /* reserve_request/commit + recv_reply(_view)(id) */
	OP_PIPELINE,  /* send_request (or reserve_request) x K + recv_reply(id | ANY) */
	OP_SENDPUSH,  /* one-way send (or reserve/commit) + recv(_view) of the push */
	OP_SENDFLUSH, /* one-way sends + shmq_client_flush */
	OP_FLUSH,     /* shmq_client_flush */
	OP_CANCEL,    /* shmq_client_cancel */
	OP_SRV_RECV,
	OP_SRV_SEND,  /* shmq_server_reply / reserve_reply + commit */
	OP_SRV_PUSH,  /* shmq_server_send / reserve + commit */
	OP_CREATE,
	OP_SHUTDOWN,  /* shmq_server_shutdown and the drain after it */
	OP_COUNT
};

enum role { ROLE_SERVER = 1, ROLE_CLIENT = 2 };

enum viol {
	V_NONE,
	V_CORRUPT_REQ,	   /* server: request failed its checksum or format */
	V_MISROUTED,	   /* server: request came from another slot than it says */
	V_CORRUPT_REP,	   /* client: reply failed its checksum, format or content */
	V_WRONG_CLIENT,	   /* client: intact reply addressed to someone else */
	V_REPLY_ORDER,	   /* client: duplicate, unknown or out-of-order push */
	V_BAD_ERROR,	   /* a call failed with an error the situation cannot explain */
	V_EINTR,	   /* -EINTR with no signal handler run */
	V_FD_LEAK,	   /* open fds grew */
	V_EXIT,		   /* driver: a process died or exited unexpectedly */
	V_SHUTDOWN_HANG,   /* driver: a graceful stop did not finish in time */
	V_LEFTOVER,	   /* driver: segment, lock file or /dev/shm entry left */
	V_STRAY_PROC,	   /* driver: a process of ours still running */
	V_SANITIZER,	   /* driver: a sanitizer reported an error (stderr.txt) */
	V_WRONG_REQUEST,   /* client: a reply for another of its requests */
	V_ABANDONED_REPLY, /* client: a reply to a request it had abandoned */
	V_REPLY_KIND,	   /* client: a reply from recv, or a push from recv_reply */
	V_LATE_COUNT,	   /* client: more late replies than requests abandoned */
	V_STATS,	   /* client: shmq_client_stat or the ids disagree with what it did */
	V_DRAIN,	   /* server: shutdown/drain/-ESHUTDOWN misbehaved */
	V_COUNT
};

struct rec {
	uint8_t type;
	uint8_t op;
	uint8_t cid;
	uint8_t flag; /* by type: CALL_*, ACK_*, PROC_*, ... */
	int32_t rc;
	uint32_t inc;
	int32_t pid;
	uint64_t seq;
	uint64_t val;
	uint64_t t0; /* CLOCK_MONOTONIC ns, the same clock in every process */
	uint32_t dur_us;
	uint32_t timeout_ms; /* UINT32_MAX: not a timed call */
	uint64_t id;	     /* the library's request id, where there is one */
	uint32_t conn;	     /* client's connection number (within its incarnation) */
	uint32_t aux;	     /* by type, see above */
};
_Static_assert(sizeof(struct rec) == 64, "log record size");

#define NO_TIMEOUT UINT32_MAX

/* ---- messages ------------------------------------------------------------ */

#define MSG_REQ_MAGIC  0x51534843u /* "CHSQ" */
#define MSG_REP_MAGIC  0x52534843u /* "CHSR" */
#define MSG_PUSH_MAGIC 0x50534843u /* "CHSP" */

/* Message kinds for msg_fill / msg_check. */
enum { KIND_REQ = 0, KIND_REP = 1, KIND_PUSH = 2 };

/* Every message starts with this; the rest is pseudo-random bytes derived
 * from (cid, inc, seq, kind) so the receiver can check every byte. */
struct msg_hdr {
	uint32_t magic;
	uint32_t cid;
	uint32_t inc;
	int32_t pid;
	uint32_t slot; /* the client's own shmq_client_self() */
	uint32_t gen;
	uint64_t seq;
	uint32_t op;	  /* enum op the client used to send it */
	uint32_t flags;	  /* SHMQ_MSG_REQUEST for a request, else 0 */
	uint32_t len;	  /* of the whole message */
	uint32_t rep_len; /* length of the reply (push) it wants; 0: none (one-way) */
	uint64_t req_sum; /* reply, push: checksum of the request it answers */
	uint64_t sum;	  /* FNV-1a of the whole message with this field zero */
	uint32_t conn;	  /* the client's connection number */
	uint32_t resv;
};
_Static_assert(sizeof(struct msg_hdr) == 72, "message header size");

#define MSG_MIN sizeof(struct msg_hdr)

/* ---- common.c ------------------------------------------------------------ */

uint64_t now_ns(void);
void sleep_ns(uint64_t ns);
uint64_t rnd(uint64_t *s);
uint64_t rnd_range(uint64_t *s, uint64_t lo, uint64_t hi); /* [lo, hi] */
uint64_t seed_mix(uint64_t a, uint64_t b);

int log_open(const char *dir, const char *file);
void log_rec(int fd, const struct rec *r);
/* Fill a record's common fields. */
struct rec rec_make(uint8_t type, uint8_t op, uint32_t cid, uint32_t inc);

uint64_t msg_sum(const void *msg, size_t len);
/* Returns the checksum it wrote. kind: KIND_*. */
uint64_t msg_fill(void *msg, const struct msg_hdr *h, int kind);
/* 0 if msg is an intact message of the kind asked, header copied to *h;
 * -1 if its checksum, format or content is wrong. */
int msg_check(const void *msg, size_t len, int kind, struct msg_hdr *h);
/* The kind an intact-looking message's magic says, or -1. */
int msg_kind(const void *msg, size_t len);
size_t msg_pick_len(uint64_t *s, size_t max);

long count_fds(void);
long rss_kb(void);

struct addr {
	int posix;
	int key;
	char name[64];
};
void addr_config(const struct addr *a, shmq_config *cfg);
int parse_num(const char *s, long long *out);

/* Options of the server and client roles, as the driver passes them. */
struct role_args {
	const char *dir;
	struct addr addr;
	uint32_t cid;
	uint32_t inc;
	uint64_t seed;
	uint32_t spin_us;
	int ready_fd; /* server: written to once the endpoint exists; -1 none */
};
/* --dir D (--key K | --name N) [--cid C] [--inc I] [--seed S] [--spin US]
 * [--ready-fd FD]. Exits with a usage message on bad input. */
void parse_role_args(int argc, char **argv, struct role_args *a);

/* A role's SIGTERM/SIGINT handler is installed: let the signals in (the
 * driver spawns children with them blocked). */
void unblock_term(void);

/* Self-test of the checker: SHMQ_CHAOS_INJECT=<fault> makes the server or
 * a client break an invariant on purpose (see scripts/chaos.sh). */
int inject(const char *fault);

extern const char *const op_names[OP_COUNT];
extern const char *const viol_names[V_COUNT];
const char *err_name(int rc);

/* ---- roles --------------------------------------------------------------- */

int server_main(int argc, char **argv);
int client_main(int argc, char **argv);
int driver_main(int argc, char **argv);
int check_main(int argc, char **argv);

/* What the checker found in one phase's logs. */
struct check_stats {
	uint64_t acked, acked_late, processed, unacked_processed;
	uint64_t pushes, pipelined, ooo_client, deferred, abandoned, late_replies;
	uint64_t flushed, flushed_killed, flush_epipe, flush_epipe_graceful;
	uint64_t shutdowns, drained, unsent_checked;
	uint64_t calls, call_errors[OP_COUNT], timeouts, epipe;
	uint64_t connects, connect_fail, connect_eproto, connect_eusers;
	uint64_t max_call_us;	       /* worst call duration, stopped time taken out */
	uint64_t max_dead_us;	       /* worst wait on a server already dead, the same way */
	uint64_t stalls, max_stall_us; /* machine stalls the watchdog saw */
	uint64_t max_ack_gap_us;
	uint64_t server_starts;
	long rss_first_kb, rss_last_kb, rss_growth_kb; /* longest-lived server */
	uint64_t violations;
};

/* Check one phase's logs in dir; violations are printed to stdout (the
 * driver's own only if print_driver: the driver printed them already).
 * Returns the number of violations, also in st->violations. */
uint64_t check_dir(const char *dir, int nclients, long rss_slack_kb, int print_driver,
		   struct check_stats *st);

#endif
