/* SPDX-License-Identifier: MIT */
/*
 * Idle costs nothing: a server blocked in shmq_server_recv(SHMQ_FOREVER) and
 * a client blocked in shmq_client_recv(SHMQ_FOREVER) each use under 1% of a
 * CPU over a 3 s window, with spin_us = 0 and with the default spin budget.
 * (They wake every 100 ms to check their peer; that must stay cheap.)
 */
#include "harness.h"

#include <fcntl.h>
#include <sys/resource.h>

#define WINDOW_MS 3000
/* An idle wait wakes every 100 ms to check its peer; under the sanitizers
 * each such wake costs several times as much (measured 0.4-0.7% here, 1.1%
 * under ASan on a loaded 2-CPU VM). A busy-poller uses ~100% either way, so
 * both bounds still catch one by far. */
#define MAX_PCT	  (SANITIZED ? 3.0 : 1.0)

static pid_t owner;
static pid_t kids[2];

static void cleanup(void)
{
	if (getpid() != owner)
		return;
	for (int i = 0; i < 2; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	shmq_config cfg = test_config(0, 0);
	shmq_remove(&cfg, SHMQ_REMOVE_FORCE);
}

/* CPU time a process has used so far, in ns: the scheduler's exact figure
 * when the kernel has it, else utime + stime in clock ticks. */
static uint64_t cpu_ns(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long run;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		int ok = fscanf(f, "%llu", &run) == 1 && run > 0;
		fclose(f);
		if (ok)
			return run;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	CHECK(f != NULL);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	/* After the comm: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime. */
	CHECK(p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			  &st) == 2);
	return (ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

static void idle_server(const shmq_config *cfg, int ready_fd)
{
	shmq_server *s;
	int rc = shmq_server_create(&s, cfg);
	if (write(ready_fd, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(2);
	char buf[16];
	ssize_t n;
	while ((n = shmq_server_recv(s, buf, sizeof(buf), NULL, SHMQ_FOREVER)) >= 0)
		if (n == 4 && memcmp(buf, "exit", 4) == 0)
			break;
	shmq_server_close(s);
	_exit(n >= 0 ? 0 : 3);
}

/* Blocks until the server goes away: the only way out is -EPIPE. */
static void idle_client(const shmq_config *cfg, int ready_fd)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (write(ready_fd, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(2);
	char buf[16];
	ssize_t n = shmq_client_recv(c, buf, sizeof(buf), SHMQ_FOREVER);
	shmq_client_close(c);
	_exit(n == -EPIPE ? 0 : 3);
}

static pid_t start(void (*fn)(const shmq_config *, int), const shmq_config *cfg, int slot)
{
	int ready[2];
	CHECK(pipe2(ready, O_CLOEXEC) == 0);
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		test_timeout(60);
		close(ready[0]);
		fn(cfg, ready[1]);
	}
	kids[slot] = pid;
	close(ready[1]);
	int rc = 1;
	CHECK(read(ready[0], &rc, sizeof(rc)) == sizeof(rc));
	close(ready[0]);
	CHECK_EQ(rc, 0);
	return pid;
}

/* Reap with a deadline; returns the child's total CPU in ms. */
static double finish(int slot)
{
	uint64_t end = now_ns() + 5000000000ull;
	struct rusage ru;
	int st;
	pid_t r;
	while ((r = wait4(kids[slot], &st, WNOHANG, &ru)) == 0) {
		CHECK(now_ns() < end);
		usleep(1000); /* polling a child's exit */
	}
	CHECK(r == kids[slot]);
	kids[slot] = 0;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* One window: 1 if both stayed under the bound. */
static int measure(uint32_t spin_us)
{
	shmq_config cfg = test_config(0, 0);
	cfg.spin_us = spin_us;
	pid_t srv = start(idle_server, &cfg, 0);
	pid_t cli = start(idle_client, &cfg, 1);

	uint64_t s0 = cpu_ns(srv), c0 = cpu_ns(cli), t0 = now_ns();
	/* The measurement window itself: nothing to synchronise with, both
	 * children must simply stay asleep. */
	struct timespec win = {WINDOW_MS / 1000, (WINDOW_MS % 1000) * 1000000L};
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &win, &win) == EINTR)
		;
	uint64_t s1 = cpu_ns(srv), c1 = cpu_ns(cli), t1 = now_ns();
	double wall = (double)(t1 - t0);
	double srv_pct = 100.0 * (double)(s1 - s0) / wall;
	double cli_pct = 100.0 * (double)(c1 - c0) / wall;

	/* Wake the server the normal way; its close wakes the client. */
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	CHECK_EQ(shmq_client_send(c, "exit", 4, 5000), 0);
	double srv_total = finish(0);
	double cli_total = finish(1);
	CHECK_EQ(shmq_client_close(c), 0);

	printf("idle(spin_us=%u): over %.2f s, server in recv used %.3f%% of a CPU, client in "
	       "recv %.3f%% (whole lives per wait4: server %.1f ms, client %.1f ms)\n",
	       spin_us, wall / 1e9, srv_pct, cli_pct, srv_total, cli_total);
	shmq_endpoint_info info;
	CHECK_EQ(shmq_inspect(&cfg, &info, NULL, 0), -ENOENT);
	return srv_pct < MAX_PCT && cli_pct < MAX_PCT;
}

/* Up to three windows: on this shared VM, CPU time of a process that wakes
 * ten times a second is charged coarsely and now and then a window comes out
 * at 1.0-1.5% for 0.1 and 0.2 alike. A busy-poller (~100%) fails all three. */
static void measure_idle(uint32_t spin_us)
{
	for (int tries = 0; tries < 3; tries++)
		if (measure(spin_us))
			return;
	fprintf(stderr, "idle(spin_us=%u): over %.1f%% of a CPU in three windows\n", spin_us,
		MAX_PCT);
	exit(1);
}

int main(void)
{
	(void)harness_failures; /* harness.h defines it; unused here */
	test_timeout(60);
	owner = getpid();
	atexit(cleanup);
	setvbuf(stdout, NULL, _IOLBF, 0);
	measure_idle(0);
	measure_idle(SHMQ_DEFAULT_SPIN_US);
	return 0;
}
