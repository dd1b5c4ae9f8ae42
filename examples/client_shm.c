/* SPDX-License-Identifier: MIT */
/*
 * client_shm: the tutorial's client, on shmq. Sends each line typed to the
 * server; "exit" stops both. Lines of any length up to the ring's limit,
 * never torn or lost, and a dead server is an error, not a void.
 */
#define _GNU_SOURCE /* getline */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shmq.h>

int main(void)
{
	shmq_config cfg;
	shmq_config_init(&cfg); /* System V key 1234 */
	shmq_client *c;
	int rc = shmq_client_connect(&c, &cfg);
	if (rc < 0) {
		fprintf(stderr, "client_shm: %s\n", shmq_strerror(rc));
		return EXIT_FAILURE;
	}
	printf("Client: Connected to shared memory. Type your messages (type 'exit' to quit):\n");

	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	for (;;) {
		printf("> ");
		fflush(stdout);
		if ((n = getline(&line, &cap, stdin)) < 0)
			break; /* end of input */
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		/* Ask whether the server is alive (a syscall): a send into a
		 * ring with room succeeds even if nobody will ever read it. */
		rc = shmq_client_check(c);
		if (rc == 0)
			rc = shmq_client_send(c, line, (size_t)n, SHMQ_FOREVER);
		if (rc < 0)
			break;
		if (strcmp(line, "exit") == 0)
			break;
	}
	/* Linger: leave only once the server has taken every line. */
	if (rc == 0)
		rc = shmq_client_flush(c, SHMQ_FOREVER);
	if (rc < 0)
		fprintf(stderr, "client_shm: %s\n", shmq_strerror(rc));
	else
		printf("Client exiting...\n");
	free(line);
	shmq_client_close(c);
	return rc < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
