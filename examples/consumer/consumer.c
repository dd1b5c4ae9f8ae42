/* SPDX-License-Identifier: MIT */
/*
 * consumer: a program built against the *installed* shmq, by
 * tests/install_check.sh (pkg-config and find_package). One round trip
 * inside one process: a server, a client, a request and its reply.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shmq.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static int fail(const char *what, long rc)
{
	fprintf(stderr, "consumer: %s: %s\n", what, shmq_strerror((int)rc));
	return 1;
}

int main(void)
{
	const char *hdr =
		STR(SHMQ_VERSION_MAJOR) "." STR(SHMQ_VERSION_MINOR) "." STR(SHMQ_VERSION_PATCH);
	if (strcmp(shmq_version(), hdr) != 0) {
		fprintf(stderr, "consumer: library %s, header %s\n", shmq_version(), hdr);
		return 1;
	}
	char name[64];
	snprintf(name, sizeof(name), "shmq-consumer-%d", (int)getpid());
	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.name = name;

	shmq_server *s;
	shmq_client *c;
	int rc = shmq_client_connect(&c, &cfg);
	if (rc != -ENOENT)
		return fail("connect before the server exists (want -ENOENT)", rc);
	if ((rc = shmq_server_create(&s, &cfg)) < 0)
		return fail("server_create", rc);
	if ((rc = shmq_client_connect(&c, &cfg)) < 0) {
		shmq_server_close(s);
		return fail("client_connect", rc);
	}
	char buf[16];
	shmq_msg m;
	ssize_t n = shmq_client_send(c, "ping", 4, 1000);
	if (n == 0)
		n = shmq_server_recv(s, buf, sizeof(buf), &m, 1000);
	if (n == 4)
		n = shmq_server_send(s, m.from, "pong", 4, 1000);
	if (n == 0)
		n = shmq_client_recv(c, buf, sizeof(buf), 1000);
	shmq_client_close(c);
	shmq_server_close(s);
	if (n != 4 || memcmp(buf, "pong", 4) != 0)
		return fail("round trip", n < 0 ? n : -EPROTO);
	printf("consumer: shmq %s, round trip ok\n", shmq_version());
	return 0;
}
