/* SPDX-License-Identifier: MIT */
/*
 * A reply queued before the server closed must still be delivered (shmq.h:
 * "messages already sent are still delivered"; client.c: "replies already
 * queued are delivered even if the server has gone since").
 *
 * Found by `shmq bench --clients 2`: the server sends a last message and
 * closes at once, while the client busy-polls for it. The client's poll
 * peeks the ring (empty: not sent yet), then reads the endpoint state
 * (closed: sent and closed meanwhile) and fails with -EPIPE, although the
 * message is now in its ring. The fix: after seeing the server gone, peek
 * once more (the close is a release store after the message's publication,
 * so a peek after the acquire load of the state must see the message).
 * shmq__wait() has the same shape: check() after a wake, without a poll.
 *
 * The race window is a few nanoseconds per poll, so the test repeats the
 * exchange; before the fix it failed in 1 to 5 rounds of 100.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "harness.h"

#define ROUNDS 200

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort */
}

static int client(const shmq_config *cfg)
{
	shmq_client *c;
	char buf[16];
	pin(0);
	CHECK_EQ(shmq_client_connect(&c, cfg), 0);
	CHECK_EQ(shmq_client_send(c, "hello", 5, 2000), 0);
	/* Busy-polls while the server sends the reply and closes. */
	ssize_t n = shmq_client_recv(c, buf, sizeof(buf), 5000);
	if (n != 5) {
		fprintf(stderr, "client: recv returned %zd (%s) with a reply queued\n", n,
			n < 0 ? shmq_strerror((int)n) : "short");
		return 1;
	}
	CHECK(memcmp(buf, "reply", 5) == 0);
	shmq_client_close(c);
	return 0;
}

int main(void)
{
	test_timeout(60);
	int lost = 0;
	for (int round = 0; round < ROUNDS; round++) {
		shmq_config cfg = test_config(round & 3, 1);
		cfg.slots = 1;
		cfg.spin_us = SHMQ_SPIN_FOREVER;
		shmq_server *s;
		CHECK_EQ(shmq_server_create(&s, &cfg), 0);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			_exit(client(&cfg));
		pin(1);
		char buf[16];
		shmq_msg m;
		ssize_t n = shmq_server_recv(s, buf, sizeof(buf), &m, 5000);
		int rc = n == 5 ? shmq_server_send(s, m.from, "reply", 5, 2000) : -1;
		shmq_server_close(s);
		int st = wait_child(pid, 10000);
		CHECK_EQ(n, 5);
		CHECK_EQ(rc, 0);
		if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
			lost++;
	}
	if (lost) {
		fprintf(stderr, "%d of %d clients lost the reply queued before close\n", lost,
			ROUNDS);
		return 1;
	}
	return 0;
}
