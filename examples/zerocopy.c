/* SPDX-License-Identifier: MIT */
/*
 * zerocopy: both sides of a request/reply exchange without copying through a
 * private buffer. The client writes each request straight into its request
 * ring (reserve/commit) and reads the reply where it lies (recv_view/release);
 * the server reads the request in place and writes its answer, the request
 * in upper case, straight into the client's reply ring.
 *   zerocopy [count]   (default 1000)
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmq.h>

#define TIMEOUT_MS 2000

static int fail(const char *who, const char *what, int err)
{
	fprintf(stderr, "zerocopy %s: %s: %s\n", who, what, shmq_strerror(err));
	return EXIT_FAILURE;
}

/* Serve count requests; the view stays valid while we fill the reply. */
static int serve(shmq_server *s, long count)
{
	for (long i = 0; i < count; i++) {
		shmq_msg m;
		void *out;
		int rc = shmq_server_recv_view(s, &m, TIMEOUT_MS);
		if (rc < 0)
			return fail("server", "recv_view", rc);
		rc = shmq_server_reserve_reply(s, &m, m.len, &out, TIMEOUT_MS);
		if (rc < 0)
			return fail("server", "reserve", rc);
		/* m.data is shared memory a hostile client could change under
		 * us: fine for toupper, but copy out what you must trust. */
		for (size_t k = 0; k < m.len; k++)
			((char *)out)[k] = (char)toupper(((const unsigned char *)m.data)[k]);
		shmq_server_commit(s, m.len);
		shmq_server_release(s, &m); /* hands the bytes back to the client */
	}
	return EXIT_SUCCESS;
}

static int client(const shmq_config *cfg, long count)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (rc < 0)
		return fail("client", "connect", rc);
	for (long i = 0; i < count && rc == 0; i++) {
		char *p, want[32];
		shmq_msg m;
		uint64_t id;
		/* Reserve more than we need, commit what we wrote. */
		if ((rc = shmq_client_reserve_request(c, 32, (void **)&p, TIMEOUT_MS)) < 0)
			break;
		int len = snprintf(p, 32, "message %ld", i);
		if ((rc = shmq_client_commit(c, (size_t)len, &id)) < 0)
			break;
		if ((rc = shmq_client_recv_reply_view(c, id, &m, TIMEOUT_MS)) < 0)
			break;
		snprintf(want, sizeof(want), "MESSAGE %ld", i);
		if (m.len != (size_t)len || memcmp(m.data, want, m.len) != 0)
			rc = -EPROTO;
		shmq_client_release(c, &m);
	}
	shmq_client_close(c);
	return rc < 0 ? fail("client", "exchange", rc) : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	if (count < 1) {
		fprintf(stderr, "usage: zerocopy [count]\n");
		return 2;
	}
	char name[64];
	snprintf(name, sizeof(name), "shmq-zerocopy-%d", (int)getpid());
	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.name = name;

	/* Fork before creating: a child forked after shmq_server_create would
	 * share the server's liveness lock and keep the endpoint "alive". The
	 * pipe tells the child when the endpoint exists (EOF: it never will). */
	int ready[2];
	pid_t pid = -1;
	if (pipe(ready) < 0 || (pid = fork()) < 0) {
		perror("zerocopy: pipe/fork");
		return EXIT_FAILURE;
	}
	if (pid == 0) {
		char b;
		close(ready[1]);
		_exit(read(ready[0], &b, 1) == 1 ? client(&cfg, count) : EXIT_FAILURE);
	}
	close(ready[0]);

	shmq_server *s; /* NULL if create fails */
	int rc = shmq_server_create(&s, &cfg);
	if (rc == 0 && write(ready[1], "", 1) != 1)
		rc = -EPIPE; /* the child is gone */
	close(ready[1]);
	int status = rc < 0 ? fail("server", "start", rc) : serve(s, count);
	if (s)
		shmq_server_close(s);
	int wst;
	if (status != EXIT_SUCCESS)
		kill(pid, SIGTERM); /* it may be waiting for a reply */
	waitpid(pid, &wst, 0);
	if (status == EXIT_SUCCESS && WIFEXITED(wst) && WEXITSTATUS(wst) == 0) {
		printf("zerocopy: %ld requests answered in place, all replies verified\n", count);
		return EXIT_SUCCESS;
	}
	return EXIT_FAILURE;
}
