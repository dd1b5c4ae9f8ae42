/* SPDX-License-Identifier: MIT */
/*
 * A tiny NATS client for the bridge tests (Debian has no `nats` CLI).
 *   nats_peer request --url U --subject S -n N [--window W] [--timeout MS]
 *                     [--max-len L] [--seed X] [--empty-every K] [--ok-out F]
 *                     [--probe] [--strict] [--grace MS] [--first F] [--rate R]
 *       N requests (payload.h), W outstanding at a time, each checked
 *       byte for byte against what was sent. Prints one tally line; exits 1
 *       on a duplicate, corrupt or unknown reply, or with --strict on any
 *       failure. --probe first waits (10 s at most) until the subject has a
 *       responder. --rate: one request every 1/R s at most (no catching up). --ok-out writes the index of every non-empty request answered ok.
 *   nats_peer respond --url U --subject S [--queue G] [--silent]
 *       Echo every request (--silent: answer none); print "req I" / "oneway I" (I = the payload's
 *       index, or "empty") for each message, "ready" once subscribed. Stops
 *       on SIGTERM/SIGINT.
 *   nats_peer publish --url U --subject S -n N [--max-len L] [--seed X] [--first F]
 *       N one-way messages, then a flush.
 * Every wait is bounded. Reconnects like the bridge (100 ms apart, 200 times).
 * Exit: 0 pass, 1 fail, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "payload.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	stop = sig;
}

static int64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct {
	const char *mode, *url, *subject, *queue, *ok_out;
	unsigned long n;
	unsigned window, empty_every;
	int timeout_ms, grace_ms, probe, strict, silent;
	size_t max_len;
	uint64_t seed;
	unsigned long first;
	unsigned long rate;
} opt = { .url = "nats://127.0.0.1:4222", .n = 100, .window = 32, .timeout_ms = 3000,
	  .grace_ms = 300, .max_len = 4096, .seed = 1 };

static void die(const char *what, natsStatus s)
{
	fprintf(stderr, "nats_peer %s: %s: %s\n", opt.mode, what, natsStatus_GetText(s));
	exit(1);
}

static natsConnection *connect_nats(void)
{
	natsOptions *o;
	natsConnection *nc = NULL;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, opt.url);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, 200);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 100);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK) /* no 1 ms flush delay per message: see the bridge */
		s = natsOptions_SetSendAsap(o, true);
	for (int i = 0; s == NATS_OK && i < 20; i++) {
		s = natsConnection_Connect(&nc, o);
		if (s == NATS_OK)
			break;
		s = NATS_OK;
		nats_Sleep(100);
	}
	natsOptions_Destroy(o);
	if (!nc)
		die("connect", s == NATS_OK ? NATS_NO_SERVER : s);
	return nc;
}

/* ---- request ------------------------------------------------------------ */

struct node {
	natsMsg *m;
	struct node *next;
};
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static struct node *qhead, *qtail;

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	(void)nc, (void)sub, (void)arg;
	struct node *q = malloc(sizeof(*q));
	if (!q)
		abort();
	q->m = m;
	q->next = NULL;
	pthread_mutex_lock(&mu);
	if (qtail)
		qtail->next = q;
	else
		qhead = q;
	qtail = q;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static struct node *take_all(int wait_ms)
{
	pthread_mutex_lock(&mu);
	if (!qhead && wait_ms > 0) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		t.tv_sec += wait_ms / 1000 + t.tv_nsec / 1000000000L;
		t.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&cv, &mu, &t);
	}
	struct node *q = qhead;
	qhead = qtail = NULL;
	pthread_mutex_unlock(&mu);
	return q;
}

/* Until a request on the subject is answered: in a cluster, interest takes
 * a moment to reach the other servers. */
static void probe(natsConnection *nc)
{
	int64_t end = now_ms() + 10000;
	natsStatus s;
	do {
		natsMsg *r = NULL;
		s = natsConnection_RequestString(&r, nc, opt.subject, "", 500);
		natsMsg_Destroy(r);
		if (s == NATS_OK)
			return;
		nats_Sleep(50);
	} while (now_ms() < end);
	die("probe: no responder in 10 s", s);
}

static int run_request(natsConnection *nc)
{
	unsigned long n = opt.n;
	unsigned char *st = calloc(n, 1);
	int64_t *deadline = calloc(n, sizeof(*deadline));
	unsigned char *want = malloc(opt.max_len);
	if (!st || !deadline || !want)
		return 1;
	natsInbox *inbox;
	natsSubscription *sub;
	natsStatus s = natsInbox_Create(&inbox);
	char wild[128];
	snprintf(wild, sizeof(wild), "%s.*", inbox);
	if (s == NATS_OK)
		s = natsConnection_Subscribe(&sub, nc, wild, on_msg, NULL);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(sub, -1, -1);
	if (s != NATS_OK)
		die("subscribe", s);
	if (opt.probe)
		probe(nc);

	struct tally t = { 0 };
	unsigned long next = 0, done = 0, oldest = 0;
	unsigned outstanding = 0;
	int64_t t0 = now_ms(), end_by = 0;
	/* --rate paces sends, and does not catch up after a stall: a burst
	 * would turn a short outage into many failures. */
	int64_t send_at = 0;
	unsigned char *buf = malloc(opt.max_len);
	for (;;) {
		while (outstanding < opt.window && next < n && !(opt.rate && now_us() < send_at)) {
			send_at = now_us() + 1000000 / (int64_t)(opt.rate ? opt.rate : 1);
			size_t len = payload_make(buf, opt.seed, (uint32_t)(opt.first + next), opt.max_len, opt.empty_every);
			char reply[160];
			snprintf(reply, sizeof(reply), "%s.%lu", inbox, next);
			s = natsConnection_PublishRequest(nc, opt.subject, reply, buf, (int)len);
			if (s != NATS_OK) {
				st[next] = ST_SENDFAIL;
				t.sendfail++;
				done++;
			} else {
				st[next] = ST_PENDING;
				deadline[next] = now_ms() + opt.timeout_ms;
				outstanding++;
			}
			next++;
		}
		if (done == n) {
			/* Everything settled: linger to catch duplicates and late replies. */
			if (!end_by)
				end_by = now_ms() + opt.grace_ms;
			if (now_ms() >= end_by)
				break;
		}
		int64_t now = now_ms();
		while (oldest < next && st[oldest] != ST_PENDING)
			oldest++;
		int w = 50;
		if (oldest < next) {
			int64_t d = deadline[oldest] - now;
			w = d < 0 ? 0 : d < 50 ? (int)d : 50;
		}
		if (opt.rate && next < n && w > 1)
			w = 1;
		for (struct node *q = take_all(w), *nx; q; q = nx) {
			nx = q->next;
			natsMsg *m = q->m;
			const char *subj = natsMsg_GetSubject(m);
			const char *dot = strrchr(subj, '.');
			char *e;
			unsigned long i = dot ? strtoul(dot + 1, &e, 10) : n;
			if (!dot || *e || i >= n || st[i] == ST_UNSENT) {
				t.bogus++;
			} else if (st[i] != ST_PENDING) {
				/* A second answer: to one already answered ok (or with an
				 * error) that is a duplicate; after a timeout, late. */
				if (st[i] == ST_TIMEOUT || st[i] == ST_SENDFAIL)
					t.late++;
				else
					t.dup++, fprintf(stderr, "nats_peer: request %lu answered twice\n", i);
			} else {
				const void *d = natsMsg_GetData(m);
				size_t len = (size_t)natsMsg_GetDataLength(m);
				size_t wl = payload_make(want, opt.seed, (uint32_t)(opt.first + i), opt.max_len, opt.empty_every);
				if (natsMsg_IsNoResponders(m)) {
					st[i] = ST_NORESP, t.noresp++;
				} else if (len == wl && memcmp(d, want, wl) == 0) {
					st[i] = ST_OK, t.ok++;
				} else if (is_error_reply(d, len)) {
					st[i] = ST_ERROR, t.error++;
					if (t.error <= 3)
						fprintf(stderr, "nats_peer: request %lu: error reply: %.*s\n", i,
							(int)(len - 1), (const char *)d + 1);
				} else {
					st[i] = ST_ERROR, t.corrupt++;
					fprintf(stderr, "nats_peer: request %lu: reply of %zu bytes differs from the "
						"%zu sent\n", i, len, wl);
				}
				outstanding--;
				done++;
			}
			natsMsg_Destroy(m);
			free(q);
		}
		now = now_ms();
		for (unsigned long i = oldest; i < next; i++) {
			if (st[i] == ST_PENDING && deadline[i] <= now) {
				st[i] = ST_TIMEOUT, t.timeout++;
				outstanding--;
				done++;
			}
		}
	}
	tally_print(&t, n, (long)(now_ms() - t0));
	if (opt.ok_out) {
		FILE *f = fopen(opt.ok_out, "w");
		if (!f)
			return 1;
		for (unsigned long i = 0; i < n; i++)
			if (st[i] == ST_OK && !(opt.empty_every && (opt.first + i) % opt.empty_every ==
							       opt.empty_every - 1))
				fprintf(f, "%lu\n", opt.first + i); /* the empty ones have no index */
		fclose(f);
	}
	natsSubscription_Destroy(sub);
	natsInbox_Destroy(inbox);
	free(st), free(deadline), free(want), free(buf);
	if (t.dup || t.corrupt || t.bogus)
		return 1;
	return opt.strict && t.ok != n ? 1 : 0;
}

/* ---- respond, publish -------------------------------------------------- */

static void print_index(const char *what, const void *d, size_t len)
{
	long i = payload_index(d, len);
	if (i >= 0)
		printf("%s %ld\n", what, i);
	else if (len == 0)
		printf("%s empty\n", what);
	else
		printf("%s other\n", what);
}

static int run_respond(natsConnection *nc)
{
	natsSubscription *sub;
	natsStatus s = opt.queue ? natsConnection_QueueSubscribeSync(&sub, nc, opt.subject, opt.queue)
				 : natsConnection_SubscribeSync(&sub, nc, opt.subject);
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(sub, -1, -1);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(nc, 5000);
	if (s != NATS_OK)
		die("subscribe", s);
	setvbuf(stdout, NULL, _IOLBF, 0); /* the tests follow the log as it grows */
	printf("ready\n");
	unsigned long served = 0;
	while (!stop) {
		natsMsg *m = NULL;
		s = natsSubscription_NextMsg(&m, sub, 100);
		if (s == NATS_TIMEOUT || s == NATS_SLOW_CONSUMER)
			continue;
		if (s != NATS_OK)
			die("next message", s);
		const char *reply = natsMsg_GetReply(m);
		const char *d = natsMsg_GetData(m);
		int len = natsMsg_GetDataLength(m);
		if (reply && *reply) {
			if (!opt.silent)
				natsConnection_Publish(nc, reply, d, len);
			print_index("req", d, (size_t)len);
		} else {
			print_index("oneway", d, (size_t)len);
		}
		served++;
		natsMsg_Destroy(m);
	}
	if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED)
		natsConnection_FlushTimeout(nc, 2000);
	natsSubscription_Destroy(sub);
	fprintf(stderr, "nats_peer respond: served %lu\n", served);
	return 0;
}

static int run_publish(natsConnection *nc)
{
	unsigned char *buf = malloc(opt.max_len);
	if (!buf)
		return 1;
	for (unsigned long i = 0; i < opt.n; i++) {
		size_t len = payload_make(buf, opt.seed, (uint32_t)(opt.first + i), opt.max_len, opt.empty_every);
		natsStatus s = natsConnection_Publish(nc, opt.subject, buf, (int)len);
		if (s != NATS_OK)
			die("publish", s);
	}
	natsStatus s = natsConnection_FlushTimeout(nc, 5000);
	if (s != NATS_OK)
		die("flush", s);
	printf("published %lu\n", opt.n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: nats_peer request|respond|publish [options]\n");
		return 2;
	}
	opt.mode = argv[1];
	static const struct option lo[] = {
		{ "url", 1, 0, 'u' },	  { "subject", 1, 0, 's' },   { "queue", 1, 0, 'g' },
		{ "n", 1, 0, 'n' },	  { "window", 1, 0, 'w' },    { "timeout", 1, 0, 't' },
		{ "max-len", 1, 0, 'L' }, { "seed", 1, 0, 'S' },      { "empty-every", 1, 0, 'E' },
		{ "ok-out", 1, 0, 'o' },  { "probe", 0, 0, 'p' },     { "strict", 0, 0, 'x' },
		{ "grace", 1, 0, 'G' },	  { "first", 1, 0, 'F' },
		{ "silent", 0, 0, 'Q' },  { "rate", 1, 0, 'R' },	  { 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "u:s:g:n:w:t:L:S:E:o:pxG:F:QR:", lo, NULL)) != -1) {
		switch (c) {
		case 'u': opt.url = optarg; break;
		case 's': opt.subject = optarg; break;
		case 'g': opt.queue = optarg; break;
		case 'n': opt.n = strtoul(optarg, NULL, 0); break;
		case 'w': opt.window = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': opt.timeout_ms = atoi(optarg); break;
		case 'L': opt.max_len = strtoul(optarg, NULL, 0); break;
		case 'S': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'E': opt.empty_every = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o': opt.ok_out = optarg; break;
		case 'p': opt.probe = 1; break;
		case 'x': opt.strict = 1; break;
		case 'F': opt.first = strtoul(optarg, NULL, 0); break;
		case 'G': opt.grace_ms = atoi(optarg); break;
		case 'Q': opt.silent = 1; break;
		case 'R': opt.rate = strtoul(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (!opt.subject || opt.max_len < PAYLOAD_HDR || !opt.window) {
		fprintf(stderr, "nats_peer: --subject and --max-len >= %d needed\n", PAYLOAD_HDR);
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);

	natsConnection *nc = connect_nats();
	int rc;
	if (!strcmp(opt.mode, "request"))
		rc = run_request(nc);
	else if (!strcmp(opt.mode, "respond"))
		rc = run_respond(nc);
	else if (!strcmp(opt.mode, "publish"))
		rc = run_publish(nc);
	else
		rc = 2;
	fflush(stdout);
	natsConnection_Close(nc);
	natsConnection_Destroy(nc);
	nats_CloseAndWait(2000);
	return rc;
}
