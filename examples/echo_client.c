/* SPDX-License-Identifier: MIT */
/*
 * echo_client: send requests to echo_server and check every reply.
 *   echo_client [count [name]]   (default 10 requests to "shmq-echo")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shmq.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
	if (count < 0) {
		fprintf(stderr, "usage: echo_client [count [name]]\n");
		return 2;
	}
	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.name = argc > 2 ? argv[2] : "shmq-echo";
	shmq_client *c;
	int rc = shmq_client_connect(&c, &cfg);
	if (rc < 0) {
		fprintf(stderr, "echo_client: %s: %s\n", cfg.name, shmq_strerror(rc));
		return EXIT_FAILURE;
	}

	char req[64], rep[64];
	double t0 = now_us();
	long i;
	for (i = 0; i < count; i++) {
		int len = snprintf(req, sizeof(req), "request %ld", i);
		/* Send, then wait for the reply: 1 s for both halves. */
		ssize_t n = shmq_client_request(c, req, (size_t)len, rep, sizeof(rep), 1000);
		if (n < 0) {
			fprintf(stderr, "echo_client: request %ld: %s\n", i, shmq_strerror((int)n));
			break;
		}
		if (n != len || memcmp(req, rep, (size_t)len) != 0) {
			fprintf(stderr, "echo_client: reply %ld does not match\n", i);
			break;
		}
	}
	if (i == count && count > 0)
		printf("echo_client: %ld round trips, %.2f us each\n", count,
		       (now_us() - t0) / (double)count);
	shmq_client_close(c);
	return i == count ? EXIT_SUCCESS : EXIT_FAILURE;
}
