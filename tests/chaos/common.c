/* SPDX-License-Identifier: MIT */
/* Pieces every role uses: clock, randomness, log records, messages, /proc. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"

const char *const op_names[OP_COUNT] = {
    [OP_NONE] = "-",
    [OP_CONNECT] = "connect",
    [OP_REQUEST] = "request",
    [OP_ZEROCOPY] = "reserve_request+recv_reply",
    [OP_PIPELINE] = "pipelined send_request+recv_reply",
    [OP_SENDPUSH] = "send+recv push",
    [OP_SENDFLUSH] = "send one-way",
    [OP_FLUSH] = "flush",
    [OP_CANCEL] = "cancel",
    [OP_SRV_RECV] = "server recv",
    [OP_SRV_SEND] = "server reply",
    [OP_SRV_PUSH] = "server send",
    [OP_CREATE] = "server create",
    [OP_SHUTDOWN] = "server shutdown",
};

const char *const viol_names[V_COUNT] = {
    [V_NONE] = "none",
    [V_CORRUPT_REQ] = "corrupt request",
    [V_MISROUTED] = "request attributed to the wrong client",
    [V_CORRUPT_REP] = "corrupt reply",
    [V_WRONG_CLIENT] = "reply delivered to the wrong client",
    [V_REPLY_ORDER] = "duplicate, unknown or out-of-order push",
    [V_BAD_ERROR] = "unexpected error",
    [V_EINTR] = "-EINTR without a signal handler",
    [V_FD_LEAK] = "file descriptors leaked",
    [V_EXIT] = "process died or exited unexpectedly",
    [V_SHUTDOWN_HANG] = "graceful stop did not finish in time",
    [V_LEFTOVER] = "segment, lock file or /dev/shm entry left behind",
    [V_STRAY_PROC] = "process left running",
    [V_SANITIZER] = "sanitizer report",
    [V_WRONG_REQUEST] = "reply delivered to the wrong request",
    [V_ABANDONED_REPLY] = "reply to an abandoned request delivered",
    [V_REPLY_KIND] = "reply returned as a push, or a push as a reply",
    [V_LATE_COUNT] =
	("more late replies than requests abandoned (a reply delivered to the wrong client?)"),
    [V_STATS] = "client stats or request ids disagree with what it did",
    [V_DRAIN] = "graceful shutdown misbehaved",
};

void unblock_term(void)
{
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_UNBLOCK, &term, NULL);
}

int inject(const char *fault)
{
	const char *v = getenv("SHMQ_CHAOS_INJECT");
	return v && !strcmp(v, fault);
}

const char *err_name(int rc)
{
	static char buf[32];
	switch (-rc) {
	case 0:
		return "0";
	case EPIPE:
		return "EPIPE";
	case ENOENT:
		return "ENOENT";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ECONNRESET:
		return "ECONNRESET";
	case EADDRINUSE:
		return "EADDRINUSE";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EAGAIN:
		return "EAGAIN";
	case EPROTO:
		return "EPROTO";
	case EUSERS:
		return "EUSERS";
	case EINTR:
		return "EINTR";
	case ENOTCONN:
		return "ENOTCONN";
	case EMSGSIZE:
		return "EMSGSIZE";
	case EEXIST:
		return "EEXIST";
	case EACCES:
		return "EACCES";
	case ESHUTDOWN:
		return "ESHUTDOWN";
	case EINPROGRESS:
		return "EINPROGRESS";
	case ENOBUFS:
		return "ENOBUFS";
	case EALREADY:
		return "EALREADY";
	case EBUSY:
		return "EBUSY";
	case EINVAL:
		return "EINVAL";
	default:
		snprintf(buf, sizeof(buf), "%d", rc);
		return buf;
	}
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Returns early on a signal: callers re-check their stop flag. */
void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
}

/* xorshift64*: fast, and good enough to pick lengths and fill payloads. */
uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t rnd_range(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + rnd(s) % (hi - lo + 1);
}

/* splitmix64 of a combined with b: never 0, a fine xorshift seed. */
uint64_t seed_mix(uint64_t a, uint64_t b)
{
	uint64_t z = a + 0x9e3779b97f4a7c15ull * (b + 1);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

/* ---- logs ---------------------------------------------------------------- */

int log_open(const char *dir, const char *file)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "chaos: %s: %s\n", path, strerror(errno));
		exit(3);
	}
	return fd;
}

/* One record, one write(2): a kill loses at most this record. A short write
 * to a local file does not happen short of a full disk; the checker would
 * see a torn record as a bad file size and say so. */
void log_rec(int fd, const struct rec *r)
{
	ssize_t w;
	do
		w = write(fd, r, sizeof(*r));
	while (w < 0 && errno == EINTR);
}

struct rec rec_make(uint8_t type, uint8_t op, uint32_t cid, uint32_t inc)
{
	return (struct rec){.type = type,
			    .op = op,
			    .cid = (uint8_t)cid,
			    .inc = inc,
			    .pid = (int32_t)getpid(),
			    .t0 = now_ns(),
			    .timeout_ms = NO_TIMEOUT};
}

/* ---- messages ------------------------------------------------------------ */

uint64_t msg_sum(const void *msg, size_t len)
{
	const unsigned char *p = msg;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = p[i];
		if (i >= offsetof(struct msg_hdr, sum) && i < sizeof(struct msg_hdr))
			b = 0; /* the checksum field counts as zero */
		h = (h ^ b) * 0x100000001b3ull;
	}
	return h;
}

static const uint32_t magics[3] = {MSG_REQ_MAGIC, MSG_REP_MAGIC, MSG_PUSH_MAGIC};

static uint64_t body_seed(const struct msg_hdr *h, int kind)
{
	return seed_mix(((uint64_t)h->cid << 40) ^ ((uint64_t)h->inc << 8) ^ (uint64_t)kind,
			h->seq);
}

static void body_fill(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t s = seed;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = rnd(&s);
		memcpy(p + i, &v, 8);
	}
	if (i < n) {
		uint64_t v = rnd(&s);
		memcpy(p + i, &v, n - i);
	}
}

static int body_ok(const unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t s = seed;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = rnd(&s);
		if (memcmp(p + i, &v, 8))
			return 0;
	}
	if (i < n) {
		uint64_t v = rnd(&s);
		if (memcmp(p + i, &v, n - i))
			return 0;
	}
	return 1;
}

/* Write header h (len set by the caller) and its body into msg, then the
 * checksum over everything. msg may be shared memory (zero-copy send). */
uint64_t msg_fill(void *msg, const struct msg_hdr *h, int kind)
{
	unsigned char *p = msg;
	struct msg_hdr hh = *h;
	hh.magic = magics[kind];
	hh.sum = 0;
	memcpy(p, &hh, sizeof(hh));
	body_fill(p + sizeof(hh), hh.len - sizeof(hh), body_seed(&hh, kind));
	hh.sum = msg_sum(p, hh.len);
	memcpy(p + offsetof(struct msg_hdr, sum), &hh.sum, sizeof(hh.sum));
	return hh.sum;
}

int msg_check(const void *msg, size_t len, int kind, struct msg_hdr *h)
{
	if (len < sizeof(*h)) {
		memset(h, 0, sizeof(*h));
		return -1;
	}
	memcpy(h, msg, sizeof(*h));
	if (h->magic != magics[kind] || h->len != len)
		return -1;
	if (msg_sum(msg, len) != h->sum)
		return -1;
	const unsigned char *p = msg;
	return body_ok(p + sizeof(*h), len - sizeof(*h), body_seed(h, kind)) ? 0 : -1;
}

int msg_kind(const void *msg, size_t len)
{
	uint32_t m;
	if (len < sizeof(struct msg_hdr))
		return -1;
	memcpy(&m, msg, sizeof(m));
	for (int k = 0; k < 3; k++)
		if (m == magics[k])
			return k;
	return -1;
}

/* Mostly small messages, some medium, a few up to the largest allowed. */
size_t msg_pick_len(uint64_t *s, size_t max)
{
	uint64_t k = rnd(s) % 16;
	size_t hi = k < 9 ? MSG_MIN + 64 : k < 15 ? 1024 : max;
	if (hi > max)
		hi = max;
	return (size_t)rnd_range(s, MSG_MIN, hi);
}

/* ---- /proc --------------------------------------------------------------- */

/* Open fds, without malloc (opendir allocates, and ASan's quarantine would
 * then look like growth in the server's RSS). */
long count_fds(void)
{
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	long n = 0;
	char buf[4096];
	for (;;) {
		long got = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (got <= 0)
			break;
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
			if (d->d_name[0] != '.')
				n++;
			off += d->d_reclen;
		}
	}
	close(dfd);
	return n - 1; /* not dfd itself */
}

long rss_kb(void)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

void addr_config(const struct addr *a, shmq_config *cfg)
{
	shmq_config_init(cfg);
	if (a->posix)
		cfg->name = a->name;
	else
		cfg->key = a->key;
	cfg->slots = CHAOS_SLOTS;
	cfg->ring_size = CHAOS_RING;
}

int parse_num(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static void usage_exit(const char *role, const char *what)
{
	fprintf(stderr, "chaos %s: bad or missing option %s\n", role, what);
	exit(2);
}

void parse_role_args(int argc, char **argv, struct role_args *a)
{
	*a = (struct role_args){.ready_fd = -1, .seed = 1, .spin_us = SHMQ_DEFAULT_SPIN_US};
	int have_addr = 0;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc)
			usage_exit(argv[0], o);
		const char *v = argv[++i];
		long long n = 0;
		int num = parse_num(v, &n) == 0;
		if (!strcmp(o, "--dir")) {
			a->dir = v;
		} else if (!strcmp(o, "--name")) {
			a->addr.posix = 1;
			snprintf(a->addr.name, sizeof(a->addr.name), "%s", v);
			have_addr = 1;
		} else if (!strcmp(o, "--key") && num) {
			a->addr.key = (int)n;
			have_addr = 1;
		} else if (!strcmp(o, "--cid") && num && n >= 0 && n < CHAOS_MAX_CLIENTS) {
			a->cid = (uint32_t)n;
		} else if (!strcmp(o, "--inc") && num && n >= 0) {
			a->inc = (uint32_t)n;
		} else if (!strcmp(o, "--seed") && num) {
			a->seed = (uint64_t)n;
		} else if (!strcmp(o, "--spin") && num && n >= 0) {
			a->spin_us = (uint32_t)n;
		} else if (!strcmp(o, "--ready-fd") && num && n >= 0) {
			a->ready_fd = (int)n;
		} else {
			usage_exit(argv[0], o);
		}
	}
	if (!a->dir)
		usage_exit(argv[0], "--dir");
	if (!have_addr)
		usage_exit(argv[0], "--key or --name");
}
