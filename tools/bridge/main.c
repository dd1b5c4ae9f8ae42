/* SPDX-License-Identifier: MIT */
/*
 * shmq-bridge: options, signals and the NATS connection, for export.c and
 * import.c. A separate program so that the shmq tool and the library do
 * not depend on libnats; `shmq bridge ...` runs it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"

volatile sig_atomic_t bridge_stop;

static void on_signal(int sig)
{
	bridge_stop = sig;
}

/* libnats starts threads when it opens, connects and subscribes: with the
 * stop signals blocked around those calls, its threads inherit a mask that
 * leaves the signals to the main thread, whose bounded waits see them. */
static sigset_t stop_signals;

void bridge_sig_block(void)
{
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
}

void bridge_sig_unblock(void)
{
	pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
}

int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shmq bridge export --key K|--name N --subject S [options]\n"
		"       shmq bridge import --subject S --name N|--key K [options]\n"
		"Bridge a shmq endpoint and a NATS subject.\n"
		"  export  serve NATS subject S with the local shmq server at K or N: each\n"
		"          NATS request becomes a shmq request and its reply goes back to the\n"
		"          NATS requester; messages without a reply subject are sent one-way\n"
		"  import  create the endpoint K or N: each request of a local shmq client\n"
		"          becomes a NATS request to S and the NATS reply its reply; one-way\n"
		"          messages are published to S\n"
		"A request that cannot be answered gets an error reply: a payload that starts\n"
		"with a NUL byte and 'shmq-bridge-error: ', then the reason.\n\n"
		"  -k, --key K             System V key of the endpoint\n"
		"  -n, --name N            POSIX shared-memory name of the endpoint\n"
		"  -m, --mode M            endpoint permissions, octal (default 0600)\n"
		"  -s, --subject S         NATS subject\n"
		"  -u, --nats URL          NATS server(s), comma-separated (default %s)\n"
		"  -g, --queue G           export: subscribe in NATS queue group G\n"
		"  -t, --timeout MS        error reply to a request not answered in MS ms\n"
		"                          (default 5000)\n"
		"      --max-inflight N    requests outstanding at once (default 1024, at most %u)\n"
		"      --connect-tries N   attempts to reach NATS at start (default 10)\n"
		"      --connect-wait MS   between them (default 500)\n"
		"      --reconnects N      attempts after losing NATS (default 120)\n"
		"      --reconnect-wait MS between them (default 250)\n"
		"      --slots N           import: client slots (default 64; one more is used)\n"
		"  -r, --ring-size B       import: bytes per ring, power of two (default 64k)\n"
		"      --spin US           spin before sleeping, microseconds or 'forever'\n"
		"      --batch             let libnats gather what is published (more throughput,\n"
		"                          up to 1 ms more latency)\n"
		"  -q, --quiet             no messages about the NATS connection\n"
		"  -h, --help              this text\n"
		"Stops on SIGINT or SIGTERM after answering what it has taken; prints its\n"
		"counters on standard error.\n",
		BRIDGE_DEFAULT_URL, SHMQ_MAX_INFLIGHT);
}

static int parse_int(const char *opt, const char *s, long long lo, long long hi, int *out)
{
	unsigned long long v;
	if (parse_u64(opt, s, (unsigned long long)lo, (unsigned long long)hi, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static void parse_args(int argc, char **argv, struct bridge_opts *o, int import)
{
	enum { O_INFLIGHT = 256, O_CTRIES, O_CWAIT, O_RECON, O_RWAIT, O_SLOTS, O_SPIN, O_BATCH };
	static const struct option opts[] = {
		ENDPOINT_OPTS,
		{ "subject", required_argument, 0, 's' },
		{ "nats", required_argument, 0, 'u' },
		{ "queue", required_argument, 0, 'g' },
		{ "timeout", required_argument, 0, 't' },
		{ "max-inflight", required_argument, 0, O_INFLIGHT },
		{ "connect-tries", required_argument, 0, O_CTRIES },
		{ "connect-wait", required_argument, 0, O_CWAIT },
		{ "reconnects", required_argument, 0, O_RECON },
		{ "reconnect-wait", required_argument, 0, O_RWAIT },
		{ "slots", required_argument, 0, O_SLOTS },
		{ "ring-size", required_argument, 0, 'r' },
		{ "spin", required_argument, 0, O_SPIN },
		{ "quiet", no_argument, 0, 'q' },
		{ "batch", no_argument, 0, O_BATCH },
		{ 0, 0, 0, 0 },
	};
	int c, have_ep = 0, v;
	unsigned long long u;
	while ((c = getopt_long(argc, argv, "k:n:m:s:u:g:t:r:qh", opts, NULL)) != -1) {
		if (c == 'k' || c == 'n')
			have_ep = 1;
		if (endpoint_opt(c, optarg, &o->cfg))
			continue;
		switch (c) {
		case 's':
			if (!*optarg || strpbrk(optarg, " \t\r\n"))
				die_usage("invalid subject '%s'", optarg);
			o->subject = optarg;
			break;
		case 'u':
			o->url = optarg;
			break;
		case 'g':
			if (import)
				die_usage("--queue is for export (import sends requests, it does not "
					  "subscribe to them)");
			o->queue = optarg;
			break;
		case 't':
			if (parse_int("--timeout", optarg, 1, 3600000, &o->timeout_ms) < 0)
				exit(2);
			break;
		case O_INFLIGHT:
			if (parse_int("--max-inflight", optarg, 1, SHMQ_MAX_INFLIGHT, &v) < 0)
				exit(2);
			o->max_inflight = (unsigned)v;
			break;
		case O_CTRIES:
			if (parse_int("--connect-tries", optarg, 1, 1000000, &o->connect_tries) < 0)
				exit(2);
			break;
		case O_CWAIT:
			if (parse_int("--connect-wait", optarg, 0, 3600000, &o->connect_wait_ms) < 0)
				exit(2);
			break;
		case O_RECON:
			if (parse_int("--reconnects", optarg, 0, 1000000, &o->reconnects) < 0)
				exit(2);
			break;
		case O_RWAIT:
			if (parse_int("--reconnect-wait", optarg, 1, 3600000, &o->reconnect_wait_ms) < 0)
				exit(2);
			break;
		case O_SLOTS:
			if (parse_u64("--slots", optarg, 1, SHMQ_MAX_SLOTS - 1, &u) < 0)
				exit(2);
			o->cfg.slots = (unsigned)u;
			break;
		case 'r':
			if (parse_size("--ring-size", optarg, &u) < 0)
				exit(2);
			if (u < SHMQ_MIN_RING_SIZE || u > SHMQ_MAX_RING_SIZE || (u & (u - 1)))
				die_usage("invalid --ring-size %s (a power of two, %u..%u bytes)", optarg,
					  SHMQ_MIN_RING_SIZE, SHMQ_MAX_RING_SIZE);
			o->cfg.ring_size = (size_t)u;
			break;
		case O_SPIN:
			if (parse_spin(optarg, &o->cfg.spin_us) < 0)
				exit(2);
			break;
		case 'q':
			o->quiet = 1;
			break;
		case O_BATCH:
			o->batch = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			die_bad_option(argv);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!o->subject)
		die_usage("--subject is required");
	if (!have_ep)
		die_usage("--key or --name is required (the shmq endpoint to %s)",
			  import ? "create" : "serve NATS with");
}

/* ---- NATS -------------------------------------------------------------- */

static atomic_int closing; /* we close the connection: callbacks stay quiet */
static int quiet;

static void on_disconnected(natsConnection *nc, void *arg)
{
	(void)nc;
	struct nats_events *ev = arg;
	if (atomic_load(&closing))
		return;
	atomic_fetch_add(&ev->disconnects, 1);
	if (!quiet)
		fprintf(stderr, "%s: NATS connection lost, reconnecting\n", prog);
}

static void on_reconnected(natsConnection *nc, void *arg)
{
	struct nats_events *ev = arg;
	atomic_fetch_add(&ev->reconnects, 1);
	char url[256] = "";
	natsConnection_GetConnectedUrl(nc, url, sizeof(url));
	if (!quiet)
		fprintf(stderr, "%s: NATS reconnected to %s\n", prog, url);
}

static void on_closed(natsConnection *nc, void *arg)
{
	(void)nc;
	struct nats_events *ev = arg;
	if (atomic_load(&closing))
		return;
	atomic_store(&ev->closed, 1);
	fprintf(stderr, "%s: NATS connection closed: reconnect attempts exhausted\n", prog);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *arg)
{
	(void)nc;
	(void)sub;
	struct nats_events *ev = arg;
	/* libnats reports a slow consumer once per episode, not per drop; the
	 * drops are counted by the subscription. */
	if (err == NATS_SLOW_CONSUMER) {
		if (atomic_fetch_add(&ev->slow_consumer, 1) == 0 && !quiet)
			fprintf(stderr, "%s: NATS is dropping messages: the bridge is a slow "
					"consumer (the shmq side does not keep up)\n", prog);
	} else if (!quiet) {
		fprintf(stderr, "%s: NATS: %s\n", prog, natsStatus_GetText(err));
	}
}

static natsStatus set_options(natsOptions *no, const struct bridge_opts *o,
			      struct nats_events *ev)
{
	natsStatus s = natsOptions_SetURL(no, o->url);
	if (s == NATS_OK)
		s = natsOptions_SetName(no, "shmq-bridge");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(no, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(no, o->reconnects > 0);
	if (s == NATS_OK && o->reconnects > 0)
		s = natsOptions_SetMaxReconnect(no, o->reconnects);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(no, o->reconnect_wait_ms);
	/* libnats buffers publishes and flushes them from a thread that
	 * first sleeps 1 ms: throughput, at 1 ms of latency per message. A
	 * bridge answers requests one by one as often as in bulk, so by
	 * default each publish is written at once (--batch for the other). */
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(no, !o->batch);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(no, on_disconnected, ev);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(no, on_reconnected, ev);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(no, on_closed, ev);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(no, on_error, ev);
	return s;
}

natsConnection *bridge_nats_connect(const struct bridge_opts *o, struct nats_events *ev)
{
	quiet = o->quiet;
	natsOptions *no = NULL;
	natsStatus s = natsOptions_Create(&no);
	if (s == NATS_OK)
		s = set_options(no, o, ev);
	if (s != NATS_OK) {
		errorf("invalid NATS options (%s): %s", o->url, natsStatus_GetText(s));
		natsOptions_Destroy(no);
		return NULL;
	}
	natsConnection *nc = NULL;
	int64_t t0 = now_ms();
	int tries = 0;
	for (;;) {
		tries++;
		bridge_sig_block();
		s = natsConnection_Connect(&nc, no);
		bridge_sig_unblock();
		if (s == NATS_OK || tries >= o->connect_tries || bridge_stop)
			break;
		struct timespec w = { .tv_sec = o->connect_wait_ms / 1000,
				      .tv_nsec = (o->connect_wait_ms % 1000) * 1000000L };
		nanosleep(&w, NULL);
	}
	natsOptions_Destroy(no);
	if (s != NATS_OK) {
		errorf("cannot connect to NATS at %s: %s (%d attempt%s in %lld ms)", o->url,
		       natsStatus_GetText(s), tries, tries == 1 ? "" : "s",
		       (long long)(now_ms() - t0));
		return NULL;
	}
	return nc;
}

size_t bridge_error_payload(char *buf, size_t cap, const char *reason)
{
	memcpy(buf, BRIDGE_ERR_PREFIX, BRIDGE_ERR_PREFIX_LEN);
	int n = snprintf(buf + BRIDGE_ERR_PREFIX_LEN, cap - BRIDGE_ERR_PREFIX_LEN, "%s", reason);
	size_t room = cap - BRIDGE_ERR_PREFIX_LEN - 1; /* snprintf keeps one for its NUL */
	return BRIDGE_ERR_PREFIX_LEN + (n < 0 ? 0 : (size_t)n > room ? room : (size_t)n);
}

natsStatus bridge_nats_error_reply(natsConnection *nc, const char *subject, const char *reason)
{
	char buf[160];
	size_t n = bridge_error_payload(buf, sizeof(buf), reason);
	return natsConnection_Publish(nc, subject, buf, (int)n);
}

int bridge_nats_up(natsConnection *nc)
{
	return natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
}

void bridge_nats_finish(natsConnection *nc, struct nats_events *ev)
{
	if (atomic_load(&ev->closed))
		return;
	if (!bridge_nats_up(nc)) {
		int b = natsConnection_Buffered(nc);
		if (b > 0)
			errorf("NATS is away: %d bytes published since it left are lost", b);
		return;
	}
	if (natsConnection_FlushTimeout(nc, 2000) != NATS_OK)
		errorf("NATS did not confirm the last messages in 2 s");
}

void bridge_nats_close(natsConnection *nc)
{
	atomic_store(&closing, 1);
	natsConnection_Close(nc);
	natsConnection_Destroy(nc);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	opterr = 0;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	int import;
	if (!strcmp(argv[1], "export"))
		import = 0;
	else if (!strcmp(argv[1], "import"))
		import = 1;
	else {
		fprintf(stderr, "shmq bridge: unknown mode '%s' (export or import)\n", argv[1]);
		return 2;
	}
	prog = import ? "shmq bridge import" : "shmq bridge export";

	struct bridge_opts o = { .url = BRIDGE_DEFAULT_URL,
				 .timeout_ms = 5000,
				 .max_inflight = 1024,
				 .connect_tries = 10,
				 .connect_wait_ms = 500,
				 .reconnects = 120,
				 .reconnect_wait_ms = 250 };
	shmq_config_init(&o.cfg);
	parse_args(argc - 1, argv + 1, &o, import);

	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	bridge_sig_block();
	natsStatus s = nats_Open(-1);
	bridge_sig_unblock();
	if (s != NATS_OK) {
		errorf("cannot start the NATS library: %s", natsStatus_GetText(s));
		return 1;
	}
	int rc = import ? bridge_import(&o) : bridge_export(&o);
	nats_CloseAndWait(2000);
	return rc;
}
