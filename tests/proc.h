/* SPDX-License-Identifier: MIT */
/*
 * Child processes, pipes and cleanup for the tests that put clients and
 * servers in real processes. Include after harness.h; call setup() first.
 *
 * Offers:
 *  - spawn(fn, arg, s): a child that runs fn(arg) and exits with what it
 *    returns; kid_wait() and chan_recv() fail the test at once if one of
 *    these fails;
 *  - fork_kid(s): a plain fork (0 in the child) whose status the test
 *    judges itself: reap(), reap_ok(), reap_killed(), reap_exit(),
 *    kid_status();
 *  - chan_*: pipes with a deadline on every receive; xpipe(), get(),
 *    wait_eof(): close-on-exec pipes and blocking reads;
 *  - ep_track(cfg): an endpoint to remove if the test fails; own_srv: the
 *    server this process closes on its way out.
 *
 * Rules:
 *  - children die with the parent (PR_SET_PDEATHSIG) and have an alarm of
 *    their own, so none outlives the test;
 *  - every wait has a deadline: its own for kid_wait, reap and chan_recv,
 *    the process's alarm for get and wait_eof;
 *  - on any failure (exit but not passed, or the alarm) the children are
 *    killed and every endpoint registered with ep_track is force-removed,
 *    then teardown_extra runs if set. Set passed = 1 once everything has
 *    passed, so that what a test leaves behind is its own to check; a test
 *    that leaves passed at 0 is cleaned up on every exit.
 */
#ifndef SHMQ_TEST_PROC_H
#define SHMQ_TEST_PROC_H

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/shm.h>

#define MAX_KIDS 64
#define MAX_EPS	 8

struct kid {
	pid_t pid;  /* 0: a free entry */
	int done;   /* reaped */
	int judged; /* spawn()ed: it must exit 0, checked as soon as it exits */
};

static pid_t owner;	     /* the test's main process */
static shmq_server *own_srv; /* the server this process closes if it fails */
static struct kid kids[MAX_KIDS];
static int nkids;
static shmq_config eps[MAX_EPS]; /* endpoints to remove if the test fails */
static char ep_names[MAX_EPS][SHMQ_NAME_MAX + 2];
static int neps;
static int passed;
static void (*teardown_extra)(void); /* more to remove, after the endpoints */

static inline void ep_track(const shmq_config *cfg)
{
	CHECK(neps < MAX_EPS);
	eps[neps] = *cfg;
	if (cfg->name) { /* a copy: test_name() reuses its buffers */
		size_t len = strlen(cfg->name);
		CHECK(len < sizeof(ep_names[0]));
		memcpy(ep_names[neps], cfg->name, len + 1);
		eps[neps].name = ep_names[neps];
	}
	neps++;
}

/* Every endpoint test_config() can make: n 0 to 3, System V and POSIX. */
static inline void ep_track_test_configs(void)
{
	for (int n = 0; n < 4; n++) {
		for (int posix = 0; posix < 2; posix++) {
			shmq_config cfg = test_config(n, posix);
			ep_track(&cfg);
		}
	}
}

/* The file an endpoint keeps in /dev/shm: the segment itself for POSIX, the
 * lock file for System V. */
static inline void ep_path(const shmq_config *cfg, char *buf, size_t len)
{
	if (cfg->name)
		snprintf(buf, len, "/dev/shm/%s", cfg->name);
	else
		snprintf(buf, len, "/dev/shm/shmq.sysv.0x%08x.lock", (unsigned)cfg->key);
}

/* The endpoint is gone without a trace: no System V segment on its key, no
 * file in /dev/shm. */
static inline void check_nothing_left(const shmq_config *cfg)
{
	char path[SHMQ_NAME_MAX + 64];
	if (!cfg->name)
		CHECK(shmget(cfg->key, 0, 0) < 0 && errno == ENOENT);
	ep_path(cfg, path, sizeof(path));
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
}

/* Kill the children and remove every endpoint. Runs from exit() or from
 * the alarm handler, so it sticks to kill, waitpid and the syscalls of
 * shmq_remove. */
static inline void teardown(void)
{
	for (int i = 0; i < nkids; i++) {
		if (kids[i].pid > 0 && !kids[i].done) {
			kill(kids[i].pid, SIGKILL);
			waitpid(kids[i].pid, NULL, 0);
		}
	}
	for (int i = 0; i < neps; i++)
		shmq_remove(&eps[i], SHMQ_REMOVE_FORCE);
	if (teardown_extra)
		teardown_extra();
}

static void at_exit(void)
{
	if (own_srv) {
		shmq_server *s = own_srv;
		own_srv = NULL;
		shmq_server_close(s);
	}
	if (getpid() == owner && !passed)
		teardown();
}

static void on_alarm(int sig)
{
	static const char msg[] = "TIMEOUT: test took too long\n";
	ssize_t w = write(2, msg, sizeof(msg) - 1);
	(void)sig;
	(void)w;
	if (getpid() == owner)
		teardown();
	_exit(1);
}

static inline void setup(unsigned seconds)
{
	owner = getpid();
	test_timeout(seconds);
	signal(SIGALRM, on_alarm); /* the harness's alarm, plus the cleanup */
	atexit(at_exit);
}

static inline struct kid *kid_find(pid_t pid)
{
	for (int i = 0; i < nkids; i++)
		if (kids[i].pid == pid)
			return &kids[i];
	return NULL;
}

/* A child the test is done with: its entry can be taken again. */
static inline void kid_forget(pid_t pid)
{
	struct kid *k = kid_find(pid);
	if (k)
		k->pid = 0;
}

/* fork(): 0 in the child, which dies with us and within seconds; the
 * child's pid in the parent, which kills it if the test fails. */
static inline pid_t fork_kid(unsigned seconds)
{
	pid_t parent = getpid();
	struct kid *k = kid_find(0);
	if (!k) {
		CHECK(nkids < MAX_KIDS);
		k = &kids[nkids++];
	}
	fflush(NULL); /* or the child would print our buffered output again */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		own_srv = NULL; /* the parent's, not ours to close */
		nkids = 0;
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		if (getppid() != parent)
			_exit(1); /* it died before the line above */
		alarm(seconds);
		return 0;
	}
	*k = (struct kid){.pid = pid};
	return pid;
}

/* A child that runs fn(arg) and must exit 0. */
static inline pid_t spawn(int (*fn)(void *), void *arg, unsigned seconds)
{
	pid_t pid = fork_kid(seconds);
	if (pid == 0)
		exit(fn(arg));
	kid_find(pid)->judged = 1;
	return pid;
}

/* Reap the spawn()ed children that have exited; any failure fails the test
 * now. */
static inline void kids_poll(void)
{
	for (int i = 0; i < nkids; i++) {
		int st;
		if (kids[i].pid <= 0 || !kids[i].judged || kids[i].done ||
		    waitpid(kids[i].pid, &st, WNOHANG) != kids[i].pid)
			continue;
		kids[i].done = 1;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "child %d failed (wait status 0x%x)\n", (int)kids[i].pid,
				st);
			exit(1);
		}
	}
}

/* Wait for a spawn()ed child to exit 0. */
static inline void kid_wait(pid_t pid, unsigned timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct kid *k = kid_find(pid);
	CHECK(k && k->judged);
	for (;;) {
		kids_poll();
		if (k->done) {
			k->pid = 0;
			return;
		}
		if (now_ns() > end) {
			fprintf(stderr, "child %d still running after %u ms\n", (int)pid,
				timeout_ms);
			exit(1);
		}
		usleep(1000); /* polling for a child's exit, not synchronising data */
	}
}

/* Wait for a fork_kid() child; its wait status, or -1 on timeout (it is
 * then killed). */
static inline int kid_status(pid_t pid, unsigned timeout_ms)
{
	int st = wait_child(pid, timeout_ms);
	kid_forget(pid);
	return st;
}

/* The same, failing the test on timeout. */
static inline int reap(pid_t pid, unsigned timeout_ms)
{
	int st = kid_status(pid, timeout_ms);
	CHECK(st != -1);
	return st;
}

static inline void reap_ok(pid_t pid, unsigned timeout_ms)
{
	int st = reap(pid, timeout_ms);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "child %d: status 0x%x\n", (int)pid, st);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static inline void reap_killed(pid_t pid)
{
	int st = reap(pid, 5000);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* Wait for a fork_kid() child that must exit (not time out, not die of a
 * signal) within timeout_ms; its exit code, for the test to judge. what
 * names the child if it fails. */
static inline int reap_exit(pid_t pid, unsigned timeout_ms, const char *what)
{
	int st = kid_status(pid, timeout_ms);
	if (st == -1 || !WIFEXITED(st)) {
		fprintf(stderr, "%s: child %d %s (status 0x%x)\n", what, (int)pid,
			st == -1 ? "timed out" : "killed by a signal", st);
		exit(1);
	}
	return WEXITSTATUS(st);
}

/* ---- pipes ----------------------------------------------------------------- */

struct chan {
	int rd, wr;
};

static inline struct chan chan_new(void)
{
	int fd[2];
	CHECK(pipe(fd) == 0);
	return (struct chan){fd[0], fd[1]};
}

static inline void chan_close(struct chan *ch)
{
	close(ch->rd);
	close(ch->wr);
}

static inline void chan_send(struct chan ch, const void *buf, size_t n)
{
	CHECK(n <= PIPE_BUF && write(ch.wr, buf, n) == (ssize_t)n);
}

/* Read exactly n bytes within timeout_ms; fail at once if a child fails. */
static inline void chan_recv(struct chan ch, void *buf, size_t n, unsigned timeout_ms)
{
	unsigned char *p = buf;
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (n) {
		struct pollfd pfd = {.fd = ch.rd, .events = POLLIN};
		int r = poll(&pfd, 1, 20);
		kids_poll();
		if (r > 0) {
			ssize_t k = read(ch.rd, p, n);
			CHECK(k > 0);
			p += k;
			n -= (size_t)k;
		} else if (now_ns() > end) {
			fprintf(stderr, "no word from the other process in %u ms\n", timeout_ms);
			exit(1);
		}
	}
}

static inline void xpipe(int fds[2])
{
	CHECK(pipe2(fds, O_CLOEXEC) == 0);
}

/* Read exactly n bytes: 1 if they came, 0 on EOF or an error first. */
static inline int get(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
	return 1;
}

/* Block until the peer closes its end (or dies). */
static inline void wait_eof(int fd)
{
	char c;
	while (read(fd, &c, 1) > 0 || errno == EINTR)
		;
}

#endif
