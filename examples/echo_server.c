/* SPDX-License-Identifier: MIT */
/*
 * echo_server: answer every request with its own bytes.
 *   echo_server [name]      (POSIX endpoint, default "shmq-echo")
 * Runs until SIGINT or SIGTERM, then removes the endpoint.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <shmq.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.name = argc > 1 ? argv[1] : "shmq-echo"; /* a file in /dev/shm */
	shmq_server *s;
	int rc = shmq_server_create(&s, &cfg);
	if (rc < 0) {
		fprintf(stderr, "echo_server: %s: %s\n", cfg.name, shmq_strerror(rc));
		return EXIT_FAILURE;
	}
	printf("echo_server: serving /%s\n", cfg.name);
	fflush(stdout);

	size_t cap = shmq_server_max_msg(s);
	char *buf = malloc(cap);
	ssize_t n = buf ? 0 : -ENOMEM;
	while (!stop && n >= 0) {
		shmq_msg m;
		n = shmq_server_recv(s, buf, cap, &m, 200); /* 200 ms: see stop */
		if (n == -ETIMEDOUT || n == -EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			break;
		if (!(m.flags & SHMQ_MSG_REQUEST))
			continue; /* a one-way message: nobody waits for a reply */
		/* The reply carries m.id back to the request it answers;
		 * -ENOTCONN if the client has left since. */
		rc = shmq_server_reply(s, &m, buf, (size_t)n, 1000);
		if (rc < 0 && rc != -ENOTCONN)
			fprintf(stderr, "echo_server: reply to slot %u: %s\n", m.from.slot,
				shmq_strerror(rc));
	}
	if (n < 0)
		fprintf(stderr, "echo_server: %s\n", shmq_strerror((int)n));
	free(buf);
	shmq_server_close(s);
	return n < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
