/* SPDX-License-Identifier: MIT */
/* shmq server: the tutorial's server_shm, without its defects. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shmq server [options]\n"
		"Create an endpoint, print 'Server received: <msg>' for each message, reply\n"
		"to requests by echoing them, stop on the message 'exit' or SIGINT/SIGTERM,\n"
		"and remove the endpoint. Stopping, it first prints every message that was\n"
		"already sent to it.\n\n"
		"  -k, --key K        System V key (default 1234)\n"
		"  -n, --name N       POSIX shared-memory name instead of a key\n"
		"  -m, --mode M       permissions, octal (default 0600)\n"
		"  -s, --slots N      client slots (default 64, 1..%u)\n"
		"  -r, --ring-size B  bytes per ring, power of two (default 64k)\n"
		"      --spin US      spin before sleeping, microseconds or 'forever' (default 50)\n"
		"  -q, --quiet        do not print messages\n"
		"  -h, --help         this text\n",
		SHMQ_MAX_SLOTS);
}

int cmd_server(int argc, char **argv)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	int quiet = 0;
	static const struct option opts[] = { ENDPOINT_OPTS,
					      { "slots", required_argument, 0, 's' },
					      { "ring-size", required_argument, 0, 'r' },
					      { "spin", required_argument, 0, 'S' },
					      { "quiet", no_argument, 0, 'q' },
					      { 0, 0, 0, 0 } };
	int c;
	unsigned long long v;
	while ((c = getopt_long(argc, argv, "k:n:m:s:r:qh", opts, NULL)) != -1) {
		if (endpoint_opt(c, optarg, &cfg))
			continue;
		switch (c) {
		case 's':
			if (parse_u64("--slots", optarg, 1, SHMQ_MAX_SLOTS, &v) < 0)
				return 2;
			cfg.slots = (unsigned)v;
			break;
		case 'r':
			if (parse_size("--ring-size", optarg, &v) < 0)
				return 2;
			if (v < SHMQ_MIN_RING_SIZE || v > SHMQ_MAX_RING_SIZE || (v & (v - 1))) {
				errorf("invalid --ring-size %s (a power of two, %u..%u bytes)", optarg,
				       SHMQ_MIN_RING_SIZE, SHMQ_MAX_RING_SIZE);
				return 2;
			}
			cfg.ring_size = (size_t)v;
			break;
		case 'S':
			if (parse_spin(optarg, &cfg.spin_us) < 0)
				return 2;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			die_bad_option(argv);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);

	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	shmq_server *s;
	int rc = shmq_server_create(&s, &cfg);
	if (rc < 0) {
		errorf("cannot create endpoint %s: %s", endpoint_str(&cfg), shmq_strerror(rc));
		return 1;
	}
	printf("Server: Shared memory created (%s, %u slots, max message %zu bytes).\n",
	       endpoint_str(&cfg), cfg.slots, shmq_server_max_msg(s));
	printf("Server: Waiting for client...\n");

	int status = 0, stopping = 0;
	for (;;) {
		if (stop_signal && !stopping) {
			printf("Server: %s, taking what was sent, then removing the endpoint.\n",
			       strsignal(stop_signal));
			shmq_server_shutdown(s);
			stopping = 1;
		}
		shmq_msg m;
		/* A bounded wait, so a signal that lands while we spin is seen. */
		rc = shmq_server_recv_view(s, &m, 200);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			continue;
		if (rc == -ESHUTDOWN)
			break; /* everything sent before the stop has been printed */
		if (rc < 0) {
			errorf("receive failed: %s", shmq_strerror(rc));
			status = 1;
			break;
		}
		int is_exit = m.len == 4 && memcmp(m.data, "exit", 4) == 0;
		if (!quiet) {
			fputs("Server received: ", stdout);
			print_escaped(stdout, m.data, m.len);
			fputc('\n', stdout);
		}
		if (m.flags & SHMQ_MSG_REQUEST) {
			/* Echo the request back as the reply: copy it out of the
			 * view first, the reply ring is another ring. */
			void *out;
			rc = shmq_server_reserve_reply(s, &m, m.len, &out, 1000);
			if (rc == 0) {
				memcpy(out, m.data, m.len);
				rc = shmq_server_commit(s, m.len);
			}
			if (rc < 0 && rc != -ENOTCONN)
				errorf("cannot reply to client %u: %s", m.from.slot, shmq_strerror(rc));
		}
		shmq_server_release(s, &m);
		if (is_exit && !stopping) {
			/* Stop taking new messages, but print every one that was
			 * sent before this 'exit' overtook it. */
			printf("Server shutting down...\n");
			shmq_server_shutdown(s);
			stopping = 1;
		}
	}
	shmq_server_close(s);
	return status;
}
