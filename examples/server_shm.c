/* SPDX-License-Identifier: MIT */
/*
 * server_shm: the tutorial's server, on shmq. Prints each message a client
 * sends; "exit" or Ctrl-C stops it, once every line already sent has been
 * printed, and the segment is removed either way.
 * It sleeps while idle and sees every message whole, once, in order.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmq.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

int main(void)
{
	/* No SA_RESTART: a signal that lands while we sleep ends the wait. */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	shmq_config cfg;
	shmq_config_init(&cfg); /* System V key 1234, mode 0600, 64 clients */
	shmq_server *s;
	int rc = shmq_server_create(&s, &cfg);
	if (rc < 0) {
		fprintf(stderr, "server_shm: %s\n", shmq_strerror(rc));
		return EXIT_FAILURE;
	}
	printf("Server: Shared memory created.\nServer: Waiting for client...\n");

	size_t cap = shmq_server_max_msg(s);
	char *buf = malloc(cap);
	ssize_t n = buf ? 0 : -ENOMEM;
	int stopping = 0;
	while (n >= 0) {
		if (stop && !stopping) {
			shmq_server_shutdown(s); /* take what was sent, nothing new */
			stopping = 1;
		}
		/* Wake every 200 ms to look at the flag: a signal that lands
		 * while we spin does not interrupt the call. */
		n = shmq_server_recv(s, buf, cap, NULL, 200);
		if (n == -ETIMEDOUT || n == -EINTR) {
			n = 0;
			continue;
		}
		if (n == -ESHUTDOWN) {
			n = 0; /* everything sent before the stop is printed */
			break;
		}
		if (n >= 0)
			printf("Server received: %.*s\n", (int)n, buf);
		if (n == 4 && memcmp(buf, "exit", 4) == 0 && !stopping) {
			/* 'exit' may overtake other clients' lines: print those
			 * first, then stop. */
			printf("Server shutting down...\n");
			shmq_server_shutdown(s);
			stopping = 1;
		}
	}
	if (n < 0)
		fprintf(stderr, "server_shm: %s\n", shmq_strerror((int)n));
	free(buf);
	shmq_server_close(s); /* clients get -EPIPE; the segment is removed */
	return n < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
