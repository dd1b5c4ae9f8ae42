/* SPDX-License-Identifier: MIT */
/* shmq client: the tutorial's client_shm, without its defects. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: shmq client [options]\n"
		   "Send each line of standard input to a server (prompt '> ' on a terminal).\n"
		   "Stops after sending 'exit', or at end of input.\n\n"
		   "  -k, --key K        System V key (default 1234)\n"
		   "  -n, --name N       POSIX shared-memory name instead of a key\n"
		   "  -m, --mode M       the loosest permissions to accept, octal (default 0600)\n"
		   "  -o, --owner USER   also accept an endpoint of this user (name or uid);\n"
		   "                     otherwise only your own, or root's with a shared mode\n"
		   "  -R, --reply        wait for the server's reply to each line and print it\n"
		   "  -t, --timeout MS   give up on a send or reply after MS ms (default: wait)\n"
		   "      --spin US      spin before sleeping, microseconds or 'forever'\n"
		   "  -h, --help         this text\n");
}

/* How long a server may take between creating its endpoint and finishing
 * its header (milliseconds); -EAGAIN means it has not finished yet. */
#define CONNECT_RETRY_MS 1000

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Connect, giving a server that is still starting a moment to finish: a
 * client started just after its server would otherwise fail now and then. */
static int connect_retry(shmq_client **cl, const shmq_config *cfg)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int rc = shmq_client_connect(cl, cfg);
		if (rc != -EAGAIN || ms_since(&t0) >= CONNECT_RETRY_MS)
			return rc;
		nanosleep(&(struct timespec){ .tv_nsec = 5000000L }, NULL);
	}
}

static const char *user_name(uid_t uid)
{
	static char buf[64];
	struct passwd *pw = getpwuid(uid);
	snprintf(buf, sizeof(buf), "%s", pw ? pw->pw_name : "no name");
	return buf;
}

/* Say why we could not connect, in words a user can act on. */
static void connect_error(const shmq_config *cfg, int rc)
{
	const char *ep = endpoint_str(cfg);
	shmq_endpoint_info info;
	if (rc == -EAGAIN) {
		errorf("cannot connect to %s: its server is running but has not finished "
		       "setting the endpoint up after %d ms (stopped, or stuck?)",
		       ep, CONNECT_RETRY_MS);
		return;
	}
	/* Made by another shmq version: name both layouts. */
	if (rc == -EPROTONOSUPPORT && shmq_inspect(cfg, &info, NULL, 0) == -EPROTONOSUPPORT) {
		errorf("cannot connect to %s: its server is shmq with segment layout %u.%u%s; "
		       "this shmq (%s) uses layout %d",
		       ep, info.layout_major, info.layout_minor,
		       info.layout_major == 1 ? " (shmq 0.1)" : "", shmq_version(), SHMQ_LAYOUT);
		return;
	}
	/* -EACCES: the read-only view says whose it is and how open. Its
	 * server's uid is as the server wrote it: a hint, not a proof. */
	if (rc == -EACCES && shmq_inspect(cfg, &info, NULL, 0) >= 0) {
		if (info.mode & 0777u & ~cfg->mode) {
			errorf("cannot connect to %s: its mode %04o is looser than --mode %04o "
			       "accepts",
			       ep, info.mode, cfg->mode);
			return;
		}
		if (info.server_uid != geteuid() && info.server_uid != cfg->trusted_uid) {
			errorf("cannot connect to %s: it belongs to uid %u (%s), not to you; "
			       "to trust it, add --owner %u",
			       ep, (unsigned)info.server_uid, user_name(info.server_uid),
			       (unsigned)info.server_uid);
			return;
		}
	}
	errorf("cannot connect to %s: %s", ep, shmq_strerror(rc));
}

int cmd_client(int argc, char **argv)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	int want_reply = 0, timeout = SHMQ_FOREVER;
	static const struct option opts[] = { ENDPOINT_OPTS,
					      { "reply", no_argument, 0, 'R' },
					      { "timeout", required_argument, 0, 't' },
					      { "spin", required_argument, 0, 'S' },
					      { "owner", required_argument, 0, 'o' },
					      { 0, 0, 0, 0 } };
	int c;
	unsigned long long v;
	while ((c = getopt_long(argc, argv, "k:n:m:o:Rt:h", opts, NULL)) != -1) {
		if (endpoint_opt(c, optarg, &cfg))
			continue;
		switch (c) {
		case 'R':
			want_reply = 1;
			break;
		case 't':
			if (parse_u64("--timeout", optarg, 1, 86400000, &v) < 0)
				return 2;
			timeout = (int)v;
			break;
		case 'S':
			if (parse_spin(optarg, &cfg.spin_us) < 0)
				return 2;
			break;
		case 'o':
			if (parse_owner(optarg, &cfg.trusted_uid) < 0)
				return 2;
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

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	shmq_client *cl;
	int rc = connect_retry(&cl, &cfg);
	if (rc < 0) {
		connect_error(&cfg, rc);
		return 1;
	}
	int tty = isatty(STDIN_FILENO);
	printf("Client: Connected to shared memory. Type your messages (type 'exit' to quit):\n");

	size_t max = shmq_client_max_msg(cl);
	char *rep = want_reply ? malloc(max ? max : 1) : NULL;
	char *line = NULL;
	size_t cap = 0;
	int status = 0;
	for (;;) {
		if (tty) {
			printf("> ");
			fflush(stdout);
		}
		ssize_t n = getline(&line, &cap, stdin);
		if (n < 0)
			break; /* end of input: leave cleanly */
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if ((size_t)n > max) {
			errorf("line of %zd bytes is longer than the largest message (%zu bytes); not sent",
			       n, max);
			status = 1;
			continue;
		}
		/* Costs a syscall, but a person typing into a dead server must
		 * hear about it now, not when the ring fills up. */
		if ((rc = shmq_client_check(cl)) < 0)
			break;
		if (want_reply) {
			ssize_t r = shmq_client_request(cl, line, (size_t)n, rep, max, timeout);
			if (r < 0) {
				rc = (int)r;
				break;
			}
			fputs("Server replied: ", stdout);
			print_escaped(stdout, rep, (size_t)r);
			fputc('\n', stdout);
		} else if ((rc = shmq_client_send(cl, line, (size_t)n, timeout)) < 0) {
			break;
		}
		if (!strcmp(line, "exit"))
			break;
	}
	/* Linger: exit 0 only once the server has taken every line. */
	if (rc >= 0) {
		rc = shmq_client_flush(cl, timeout);
		if (rc == 0) {
			printf("Client exiting...\n");
		} else {
			if (rc == -ETIMEDOUT)
				errorf("the server has not taken every line yet (--timeout %d ms)",
				       timeout);
			else
				errorf("not every line reached the server: %s", shmq_strerror(rc));
			status = 1;
			rc = 0;
		}
	}
	if (rc < 0) {
		errorf("%s", shmq_strerror(rc));
		status = 1;
	}
	free(line);
	free(rep);
	shmq_client_close(cl);
	return status;
}
