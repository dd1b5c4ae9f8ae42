/* SPDX-License-Identifier: MIT */
/*
 * The driver: runs the test in phases (alternating System V and POSIX
 * endpoints, each with its own key or name and log directory), and in each
 * phase keeps one server and N clients running while it
 *   - SIGKILLs clients and restarts them as new incarnations,
 *   - SIGSTOPs clients and the server for 10-300 ms (sometimes 400-900 ms,
 *     longer than a call's timeout) and SIGCONTs them,
 *   - SIGKILLs the server (sometimes while it is still creating its
 *     endpoint) or stops it gracefully with SIGTERM (the server then calls
 *     shmq_server_shutdown and drains before it closes), and starts a new one.
 * At the end of a phase it stops everything gracefully (SIGCONT all, SIGTERM
 * the server then the clients, or the clients first: they flush before they
 * leave), checks that nothing is left (segment, lock file, /dev/shm entry,
 * process) and runs the checker on the logs.
 *
 * Bounded: the driver leads a process group; every child dies with it
 * (PR_SET_PDEATHSIG); every wait has a deadline; SIGALRM is a hard deadline.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos.h"

#define MS	      1000000ull
#define STOP_GRACE_MS 3000 /* a graceful stop must finish within this */
#define READY_WAIT_MS 5000 /* a new server must have its endpoint by then */

struct child {
	pid_t pid; /* 0: not running */
	enum role role;
	uint32_t cid, inc;
	int sent;	  /* signal we sent to end it: 0, SIGKILL, SIGTERM */
	uint64_t term_by; /* SIGTERM sent: must be gone by then */
	int stopped;
	uint64_t stop_t0, stop_until;
	uint64_t restart_at; /* not running: start again then (0: don't) */
	int ready_fd;	     /* server: read end of its ready pipe */
	int creating;	     /* server: said it calls shmq_server_create now */
	int ready;	     /* server: said its endpoint exists */
};

struct opts {
	double seconds;
	double phase_seconds;
	int clients;
	const char *backend;
	uint64_t seed;
	const char *dir;
	int keep;
	int calm_server; /* no faults for the server (self-test of the RSS check) */
	long rss_slack_kb;
	int end_order; /* phase end: 0 random, 1 server first, 2 clients first */
};

struct counts {
	uint64_t client_kills, client_terms, client_starts;
	uint64_t server_kills, server_terms, server_early_kills, server_starts;
	uint64_t server_end_terms; /* graceful stops at the end of the phase */
	uint64_t stops_client, stops_server, stops_long;
};

struct phase {
	int n;
	struct addr addr;
	char dir[PATH_MAX];
	int log;
	uint64_t rng;
	uint32_t srv_inc;
	struct child srv;
	struct child cli[CHAOS_MAX_CLIENTS];
	int nclients;
	pid_t watchdog;
	int calm_server;
	int end_order;
	int burst;		   /* servers still to kill while they create their endpoint */
	unsigned printed[V_COUNT]; /* violations printed, per kind */
	struct ended {		   /* how recent servers ended, for diagnose_endpoint */
		pid_t pid;
		uint32_t inc;
		const char *how;
	} ended[64];
	unsigned nended;
	int create_failed; /* servers that could not create the endpoint */
	int shutting_down;
	struct counts k;
};

static pid_t driver_pid;
static volatile sig_atomic_t abort_sig;
static struct phase *cur; /* for the emergency exit */

/* ---- emergency exit ------------------------------------------------------ */

static void kill_all(struct phase *p)
{
	if (p->watchdog > 0)
		kill(p->watchdog, SIGKILL);
	if (p->srv.pid > 0)
		kill(p->srv.pid, SIGKILL);
	for (int i = 0; i < p->nclients; i++)
		if (p->cli[i].pid > 0)
			kill(p->cli[i].pid, SIGKILL);
}

static void remove_endpoint(const struct phase *p)
{
	shmq_config cfg;
	addr_config(&p->addr, &cfg);
	shmq_remove(&cfg, SHMQ_REMOVE_FORCE);
	if (!p->addr.posix) {
		char path[128];
		snprintf(path, sizeof(path), "/dev/shm/shmq.sysv.0x%08x.lock",
			 (unsigned)p->addr.key);
		unlink(path);
	}
}

/* SIGINT, SIGTERM, SIGALRM: the main loop ends the run. If it does not within
 * 5 s, the second alarm kills the whole process group, us included. */
static void on_abort(int sig)
{
	if (abort_sig) {
		static const char msg[] = "chaos: driver stuck, killing the process group\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		kill(0, SIGKILL);
	}
	abort_sig = sig;
	alarm(5);
}

static void emergency_exit(void)
{
	fprintf(stderr, "chaos: aborted by signal %d (hard deadline or interrupt)\n",
		(int)abort_sig);
	if (cur) {
		kill_all(cur);
		while (waitpid(-1, NULL, 0) > 0)
			;
		remove_endpoint(cur);
		fprintf(stderr, "chaos: logs in %s\n", cur->dir);
	}
	exit(1);
}

/* ---- logging and violations ---------------------------------------------- */

static void dlog(struct phase *p, uint8_t type, uint8_t op, const struct child *c, int rc,
		 uint64_t val)
{
	struct rec r = rec_make(type, op, c ? c->cid : 0, c ? c->inc : 0);
	r.pid = c ? c->pid : 0;
	r.rc = rc;
	r.val = val;
	r.seq = c ? (uint64_t)c->role : 0;
	log_rec(p->log, &r);
}

static const char *who(const struct child *c)
{
	static char buf[64];
	if (c->role == ROLE_SERVER)
		snprintf(buf, sizeof(buf), "server #%u (pid %d)", c->inc, (int)c->pid);
	else
		snprintf(buf, sizeof(buf), "client %u #%u (pid %d)", c->cid, c->inc, (int)c->pid);
	return buf;
}

static void violation(struct phase *p, enum viol kind, const struct child *c, int rc, uint64_t val,
		      const char *detail)
{
	dlog(p, R_VIOL, (uint8_t)kind, c, rc, val);
	if (p->printed[kind]++ >= 5) {
		if (p->printed[kind] == 6)
			printf("chaos: VIOLATION: %s: more of these, not printed\n",
			       viol_names[kind]);
		return;
	}
	printf("chaos: VIOLATION: %s: %s%s%s\n", viol_names[kind], c ? who(c) : "",
	       c && detail ? ": " : "", detail ? detail : "");
	fflush(stdout);
}

static const char *how_ended(const struct phase *p, pid_t pid)
{
	static char buf[96];
	snprintf(buf, sizeof(buf), "pid %d (not a server of ours)", (int)pid);
	for (unsigned i = 0; i < p->nended && i < 64; i++)
		if (p->ended[i].pid == pid)
			snprintf(buf, sizeof(buf), "server #%u (pid %d), which %s", p->ended[i].inc,
				 (int)pid, p->ended[i].how);
	return buf;
}

/* What a server that could not create the endpoint found there. */
static void diagnose_endpoint(struct phase *p)
{
	char lock[256] = "", seg[256] = "";
	if (p->addr.posix) {
		char path[128];
		struct stat st;
		snprintf(path, sizeof(path), "/dev/shm/%s", p->addr.name);
		if (stat(path, &st) == 0)
			snprintf(lock, sizeof(lock), "%s: %lld bytes, mode %o", path,
				 (long long)st.st_size, (unsigned)st.st_mode & 0777u);
	} else {
		char path[128], buf[32] = "";
		snprintf(path, sizeof(path), "/dev/shm/shmq.sysv.0x%08x.lock",
			 (unsigned)p->addr.key);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(lock, sizeof(lock), "lock file %s%s%s", fd < 0 ? "absent" : "holds \"",
			 buf, fd < 0 ? "" : "\"");
		int id = shmget(p->addr.key, 0, 0);
		struct shmid_ds ds;
		if (id >= 0 && shmctl(id, IPC_STAT, &ds) == 0) {
			void *m = shmat(id, NULL, SHM_RDONLY);
			uint64_t magic = 0;
			if (m != (void *)-1) {
				memcpy(&magic, m, sizeof(magic));
				shmdt(m);
			}
			snprintf(seg, sizeof(seg),
				 "; segment id %d, %lu attached, magic %016llx, "
				 "created by %s",
				 id, (unsigned long)ds.shm_nattch, (unsigned long long)magic,
				 how_ended(p, ds.shm_cpid));
		} else {
			snprintf(seg, sizeof(seg), "; no segment for the key");
		}
	}
	const struct ended *prev = p->nended ? &p->ended[(p->nended - 1) % 64] : NULL;
	printf("chaos: the first server that could not create the endpoint left: %s%s; the "
	       "server before it: #%u, which %s\n",
	       lock[0] ? lock : "nothing", seg, prev ? prev->inc : 0, prev ? prev->how : "-");
}

/* ---- children ------------------------------------------------------------ */

static void exec_role(const struct phase *p, const struct child *c, int ready_fd)
{
	char inc[16], cid[16], seed[32], spin[16], addr[80];
	uint64_t s = seed_mix(p->rng, (uint64_t)c->role << 40 | (uint64_t)c->cid << 32 | c->inc);
	static const uint32_t spins[] = {0, 20, 50, 200};
	snprintf(inc, sizeof(inc), "%u", c->inc);
	snprintf(cid, sizeof(cid), "%u", c->cid);
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)(s >> 1));
	snprintf(spin, sizeof(spin), "%u", spins[s % 4]);
	if (p->addr.posix)
		snprintf(addr, sizeof(addr), "%s", p->addr.name);
	else
		snprintf(addr, sizeof(addr), "%d", p->addr.key);
	char *argv[] = {"chaos",
			c->role == ROLE_SERVER ? "server" : "client",
			"--dir",
			(char *)p->dir,
			p->addr.posix ? "--name" : "--key",
			addr,
			"--inc",
			inc,
			"--cid",
			cid,
			"--seed",
			seed,
			"--spin",
			spin,
			ready_fd >= 0 ? "--ready-fd" : NULL,
			"3",
			NULL};
	/* fd 3 must survive exec: dup2 clears O_CLOEXEC, but not onto itself. */
	if (ready_fd >= 0 && (ready_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(ready_fd, 3)) < 0)
		_exit(127);
	execv("/proc/self/exe", argv);
	_exit(127);
}

/* Children die with the driver, write stderr to the phase's stderr.txt and
 * start with only SIGTERM and SIGINT blocked: a role unblocks them once its
 * handler is in place, so a SIGTERM sent right after the spawn is not fatal
 * but waits for it (see unblock_term). */
static void child_setup(const struct phase *p)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != driver_pid)
		_exit(1);
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/stderr.txt", p->dir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_SETMASK, &term, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_TIMERSLACK, 0); /* back to the default */
}

static void poll_ready(struct child *c);
static void sig(struct phase *p, struct child *c, int s);

/* SIGKILL a new server within 400 us of its call to shmq_server_create:
 * whatever it leaves half made, the next server must reclaim. We block for
 * its "creating" byte, so the kill lands in the window, not milliseconds
 * after it. We sleep (with 1 ns timer slack) rather than spin: a spinning
 * driver would keep the server off the CPU it needs to get anywhere. */
static void kill_while_creating(struct phase *p, struct child *c)
{
	struct pollfd pf = {.fd = c->ready_fd, .events = POLLIN};
	uint64_t deadline = now_ns() + READY_WAIT_MS * MS;
	while (!c->creating && now_ns() < deadline && !abort_sig) {
		poll(&pf, 1, 10);
		poll_ready(c);
	}
	/* Half the kills aim at the first 100 us, where the lock file and
	 * the segment are made; the rest anywhere in creation. */
	sleep_ns(rnd_range(&p->rng, 0, rnd(&p->rng) & 1 ? 100 : 400) * 1000);
	sig(p, c, SIGKILL);
	p->k.server_kills++;
	p->k.server_early_kills++;
}

static void spawn(struct phase *p, struct child *c, int may_kill_early)
{
	int pfd[2] = {-1, -1};
	if (c->role == ROLE_SERVER && pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("chaos: pipe");
		exit(3);
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("chaos: fork");
		exit(3);
	}
	if (pid == 0) {
		child_setup(p);
		exec_role(p, c, pfd[1]);
	}
	c->pid = pid;
	c->sent = 0;
	c->stopped = 0;
	c->restart_at = 0;
	c->ready = 0;
	c->creating = 0;
	if (c->role == ROLE_SERVER) {
		close(pfd[1]);
		c->ready_fd = pfd[0];
		p->k.server_starts++;
	} else {
		p->k.client_starts++;
	}
	dlog(p, R_SPAWN, (uint8_t)c->role, c, 0, 0);
	if (c->role == ROLE_SERVER && may_kill_early && !p->calm_server &&
	    (p->burst > 0 || rnd(&p->rng) % 6 == 0)) {
		if (p->burst > 0)
			p->burst--;
		kill_while_creating(p, c);
	}
}

static void cont(struct phase *p, struct child *c)
{
	if (!c->stopped)
		return;
	if (c->pid > 0)
		kill(c->pid, SIGCONT);
	uint64_t now = now_ns();
	struct rec r = rec_make(R_STOP, 0, c->cid, c->inc);
	r.pid = c->pid;
	r.t0 = c->stop_t0;
	r.dur_us = (uint32_t)((now - c->stop_t0) / 1000);
	r.seq = (uint64_t)c->role;
	log_rec(p->log, &r);
	c->stopped = 0;
}

static void sig(struct phase *p, struct child *c, int s)
{
	if (s == SIGTERM) {
		cont(p, c); /* a stopped process cannot act on SIGTERM */
		c->term_by = now_ns() + STOP_GRACE_MS * MS;
	}
	if (c->sent != SIGKILL)
		c->sent = s;
	kill(c->pid, s);
	dlog(p, R_KILL, 0, c, s, 0);
}

static int exit_ok(const struct child *c, int st)
{
	if (c->sent == SIGKILL)
		return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
	if (c->sent == SIGTERM)
		return WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return 0;
}

static struct child *find(struct phase *p, pid_t pid)
{
	if (p->srv.pid == pid)
		return &p->srv;
	for (int i = 0; i < p->nclients; i++)
		if (p->cli[i].pid == pid)
			return &p->cli[i];
	return NULL;
}

static void on_exit_status(struct phase *p, struct child *c, int st)
{
	uint64_t now = now_ns();
	cont(p, c); /* closes its stop record, if it died stopped */
	if (!exit_ok(c, st)) {
		char detail[96];
		if (WIFSIGNALED(st))
			snprintf(detail, sizeof(detail), "killed by signal %d (we sent %d)",
				 WTERMSIG(st), c->sent);
		else
			snprintf(detail, sizeof(detail), "exit status %d (we sent %d)%s",
				 WEXITSTATUS(st), c->sent,
				 c->role == ROLE_SERVER && WEXITSTATUS(st) == 2
				     ? ", could not create its endpoint"
				     : "");
		violation(p, V_EXIT, c, st, (uint64_t)c->sent, detail);
		if (c->role == ROLE_SERVER && WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
		    !p->create_failed++)
			diagnose_endpoint(p);
	}
	if (c->role == ROLE_SERVER)
		p->ended[p->nended++ % 64] = (struct ended){
		    c->pid, c->inc,
		    c->sent == SIGKILL
			? (c->ready ? "was SIGKILLed" : "was SIGKILLed before it was ready")
		    : c->sent == SIGTERM ? "was stopped by SIGTERM"
					 : "exited by itself"};
	if (c->ready_fd >= 0) {
		close(c->ready_fd);
		c->ready_fd = -1;
	}
	c->pid = 0;
	c->stopped = 0;
	if (p->shutting_down)
		return;
	if (c->role == ROLE_SERVER) {
		/* Downtime: often none, so clients race the new server. */
		uint64_t down = rnd(&p->rng) % 4 == 0 || p->burst ? 0 : rnd_range(&p->rng, 1, 600);
		c->restart_at = now + down * MS;
		c->inc = ++p->srv_inc;
	} else {
		c->restart_at = now + rnd_range(&p->rng, 0, 100) * MS;
		c->inc++;
	}
}

static void reap(struct phase *p)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct child *c = find(p, pid);
		if (c)
			on_exit_status(p, c, st);
		else if (pid == p->watchdog)
			p->watchdog = 0;
	}
}

/* ---- the watchdog: tells a machine stall from a library hang --------------
 * A process that sleeps 1 ms at a time and logs every time it overslept by
 * more than STALL_MS: then nothing ran, not just the library's caller (the
 * host paused the VM, or the machine was swamped). The checker does not
 * count such time against a call's timeout. */
#define STALL_MS 20

static void watchdog_loop(const struct phase *p, double secs)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	alarm((unsigned)secs + 120);
	uint64_t prev = now_ns();
	for (;;) {
		sleep_ns(MS);
		uint64_t now = now_ns();
		if (now - prev > (STALL_MS + 1) * MS) {
			struct rec r = rec_make(R_STALL, 0, 0, 0);
			r.t0 = prev + MS;
			r.dur_us = (uint32_t)((now - prev - MS) / 1000);
			log_rec(p->log, &r);
		}
		prev = now;
	}
}

static void start_watchdog(struct phase *p, double secs)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("chaos: fork");
		exit(3);
	}
	if (pid == 0) {
		child_setup(p);
		watchdog_loop(p, secs);
	}
	p->watchdog = pid;
}

static void stop_watchdog(struct phase *p)
{
	if (p->watchdog <= 0)
		return;
	kill(p->watchdog, SIGKILL);
	waitpid(p->watchdog, NULL, 0);
	p->watchdog = 0;
}

/* The server writes 'c' just before shmq_server_create, 'r' after it. */
static void poll_ready(struct child *c)
{
	char b;
	while (c->pid > 0 && !c->ready && c->ready_fd >= 0 && read(c->ready_fd, &b, 1) == 1) {
		c->creating = 1;
		c->ready = b == 'r';
	}
}

/* ---- faults -------------------------------------------------------------- */

static struct child *random_client(struct phase *p)
{
	int i = (int)(rnd(&p->rng) % (uint64_t)p->nclients);
	return p->cli[i].pid > 0 ? &p->cli[i] : NULL;
}

/* Mostly SIGKILL; sometimes SIGTERM, so that clients also leave with
 * shmq_client_close in the middle of the traffic. */
static void fault_kill_client(struct phase *p)
{
	struct child *c = random_client(p);
	if (!c || c->sent)
		return;
	if (rnd(&p->rng) % 4 == 0) {
		sig(p, c, SIGTERM);
		p->k.client_terms++;
	} else {
		sig(p, c, SIGKILL);
		p->k.client_kills++;
	}
}

static void fault_stop(struct phase *p)
{
	struct child *c = rnd(&p->rng) % 4 == 0 && !p->calm_server ? &p->srv : random_client(p);
	if (!c || c->pid <= 0 || c->stopped || c->sent)
		return;
	int longer = rnd(&p->rng) % 8 == 0; /* past a call's timeout */
	uint64_t ms = longer ? rnd_range(&p->rng, 400, 900) : rnd_range(&p->rng, 10, 300);
	c->stop_t0 = now_ns();
	kill(c->pid, SIGSTOP);
	c->stopped = 1;
	c->stop_until = c->stop_t0 + ms * MS;
	if (c->role == ROLE_SERVER)
		p->k.stops_server++;
	else
		p->k.stops_client++;
	p->k.stops_long += (uint64_t)longer;
}

static void fault_server(struct phase *p)
{
	struct child *c = &p->srv;
	if (c->pid <= 0 || c->sent)
		return;
	uint64_t r = rnd(&p->rng) % 8;
	if (c->ready && r < 3) {
		sig(p, c, SIGTERM); /* a graceful stop: shutdown, drain, close */
		p->k.server_terms++;
	} else {
		if (r < 5)
			p->burst = 30; /* the next thirty die while creating */
		sig(p, c, SIGKILL);
		p->k.server_kills++;
	}
}

/* Time-driven things: ends of stops, restarts, deadlines of SIGTERMs. */
static void tend(struct phase *p, struct child *c, uint64_t now)
{
	if (c->pid > 0) {
		if (c->role == ROLE_SERVER)
			poll_ready(c);
		if (c->stopped && now >= c->stop_until)
			cont(p, c);
		if (c->sent == SIGTERM && now >= c->term_by) {
			violation(p, V_SHUTDOWN_HANG, c, 0, 0, "still running 3 s after SIGTERM");
			sig(p, c, SIGKILL);
		}
	} else if (c->restart_at && now >= c->restart_at && !p->shutting_down) {
		spawn(p, c, 1);
	}
}

/* ---- one phase ----------------------------------------------------------- */

struct schedule {
	uint64_t kill_client, stop, server;
};

static void chaos_loop(struct phase *p, uint64_t end)
{
	uint64_t now = now_ns();
	struct schedule s = {
	    .kill_client = now + rnd_range(&p->rng, 150, 650) * MS,
	    .stop = now + rnd_range(&p->rng, 100, 400) * MS,
	    .server = now + rnd_range(&p->rng, 2000, 8000) * MS,
	};
	while ((now = now_ns()) < end && !abort_sig) {
		reap(p);
		tend(p, &p->srv, now);
		for (int i = 0; i < p->nclients; i++)
			tend(p, &p->cli[i], now);
		if (now >= s.kill_client) {
			fault_kill_client(p);
			s.kill_client = now + rnd_range(&p->rng, 150, 650) * MS;
		}
		if (now >= s.stop) {
			fault_stop(p);
			s.stop = now + rnd_range(&p->rng, 100, 400) * MS;
		}
		if (now >= s.server) {
			if (!p->calm_server)
				fault_server(p);
			s.server = now + rnd_range(&p->rng, 2000, 8000) * MS;
		}
		sleep_ns(2 * MS); /* the fault schedule's tick */
	}
}

/* Reap until c is gone or the deadline passes; 0 if gone. */
static int wait_gone(struct phase *p, struct child *c, uint64_t deadline)
{
	while (c->pid > 0 && now_ns() < deadline && !abort_sig) {
		reap(p);
		if (c->pid > 0)
			sleep_ns(MS);
	}
	return c->pid > 0 ? -1 : 0;
}

/* The last server must be up, so that it can be stopped gracefully. */
static void ensure_server(struct phase *p)
{
	for (int tries = 0; tries < 3 && !abort_sig; tries++) {
		if (p->srv.pid <= 0) {
			p->srv.inc = ++p->srv_inc;
			spawn(p, &p->srv, 0);
		}
		if (p->srv.sent) {
			wait_gone(p, &p->srv, now_ns() + STOP_GRACE_MS * MS);
			continue;
		}
		uint64_t deadline = now_ns() + READY_WAIT_MS * MS;
		while (p->srv.pid > 0 && !p->srv.ready && now_ns() < deadline && !abort_sig) {
			struct pollfd pf = {.fd = p->srv.ready_fd, .events = POLLIN};
			poll(&pf, 1, 10);
			poll_ready(&p->srv);
			reap(p);
		}
		if (p->srv.ready)
			return;
	}
}

static void stop_gracefully(struct phase *p, struct child *c)
{
	if (c->pid <= 0)
		return;
	if (c->sent != SIGKILL)
		sig(p, c, SIGTERM);
	if (wait_gone(p, c, now_ns() + STOP_GRACE_MS * MS) < 0) {
		violation(p, V_SHUTDOWN_HANG, c, 0, 0, "still running 3 s after SIGTERM");
		sig(p, c, SIGKILL);
		wait_gone(p, c, now_ns() + STOP_GRACE_MS * MS);
	}
}

static void shutdown_phase(struct phase *p)
{
	p->shutting_down = 1;
	reap(p);
	cont(p, &p->srv);
	for (int i = 0; i < p->nclients; i++)
		cont(p, &p->cli[i]);
	ensure_server(p);
	/* Either the server stops first (clients see it drain, and flush),
	 * or the clients leave first (flushing to a live server). */
	int server_first = p->end_order ? p->end_order == 1 : (int)(rnd(&p->rng) & 1);
	if (server_first) {
		p->k.server_end_terms += p->srv.pid > 0;
		stop_gracefully(p, &p->srv);
	}
	for (int i = 0; i < p->nclients; i++)
		if (p->cli[i].pid > 0)
			sig(p, &p->cli[i], SIGTERM);
	for (int i = 0; i < p->nclients; i++)
		stop_gracefully(p, &p->cli[i]);
	if (!server_first) {
		p->k.server_end_terms += p->srv.pid > 0;
		stop_gracefully(p, &p->srv);
	}
}

/* ---- after the phase: nothing may be left -------------------------------- */

static void check_leftovers(struct phase *p)
{
	char what[256] = "";
	if (p->addr.posix) {
		char path[128];
		snprintf(path, sizeof(path), "/dev/shm/%s", p->addr.name);
		if (access(path, F_OK) == 0)
			snprintf(what, sizeof(what), "%s exists", path);
	} else {
		char path[128];
		snprintf(path, sizeof(path), "/dev/shm/shmq.sysv.0x%08x.lock",
			 (unsigned)p->addr.key);
		int id = shmget(p->addr.key, 0, 0);
		int lock = access(path, F_OK) == 0;
		if (id >= 0 || lock)
			snprintf(what, sizeof(what), "%s%s%s",
				 id >= 0 ? "System V segment for the key" : "",
				 id >= 0 && lock ? ", " : "", lock ? path : "");
	}
	if (what[0]) {
		violation(p, V_LEFTOVER, NULL, 0, 0, what);
		remove_endpoint(p); /* reported; now don't leave it for others */
	}
}

/* Processes of our group but us, not counting zombies (already dead; their
 * parent reaps them). Fills up to n pids with descriptions; returns how many. */
static int find_strays(pid_t *pids, char (*desc)[128], int n)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d)) && found < n) {
		long long pid;
		if (parse_num(e->d_name, &pid) < 0 || pid == getpid())
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		const char *lp = strchr(buf, '('),
			   *rp = strrchr(buf, ')'); /* comm may have spaces */
		char state;
		int ppid, pgrp;
		if (!lp || !rp || sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 ||
		    pgrp != getpgrp() || state == 'Z' || state == 'X')
			continue;
		pids[found] = (pid_t)pid;
		snprintf(desc[found], sizeof(desc[0]), "pid %lld (%.*s, state %c, parent %d)", pid,
			 (int)(rp - lp - 1), lp + 1, state, ppid);
		found++;
	}
	closedir(d);
	return found;
}

/* Any process of our group but us is a stray, once those on their way out
 * have had a second to go. */
static void check_strays(struct phase *p)
{
	if (getpgrp() != getpid())
		return; /* not a group leader: the group is not ours alone */
	pid_t pids[16];
	char desc[16][128];
	int n = 0;
	for (int tries = 0; tries < 100; tries++) {
		n = find_strays(pids, desc, 16);
		if (n == 0)
			return;
		sleep_ns(10 * MS);
	}
	for (int i = 0; i < n; i++) {
		violation(p, V_STRAY_PROC, NULL, 0, (uint64_t)pids[i], desc[i]);
		kill(pids[i], SIGKILL);
	}
}

/* What the children wrote to stderr: shown on failure; a sanitizer's report
 * is a violation even if the process went on. */
static void check_stderr(struct phase *p, int show)
{
	char path[PATH_MAX + 16], buf[1536];
	snprintf(path, sizeof(path), "%s/stderr.txt", p->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (!show && (strstr(buf, "Sanitizer") || strstr(buf, "runtime error:")))
		violation(p, V_SANITIZER, NULL, 0, 0, path);
	if (show)
		printf("chaos: %s (first %zd bytes):\n%s\n", path, n, buf);
}

/* ---- phases -------------------------------------------------------------- */

static void phase_setup(struct phase *p, const struct opts *o, const char *base, int n, int posix)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->nclients = o->clients;
	p->calm_server = o->calm_server;
	p->end_order = o->end_order;
	p->rng = seed_mix(o->seed, (uint64_t)n);
	p->addr.posix = posix;
	unsigned pid = (unsigned)getpid();
	if (posix)
		snprintf(p->addr.name, sizeof(p->addr.name), "shmq-test-chaos-%u-%d", pid, n);
	else
		p->addr.key = (int)(0x5e000000u | ((pid & 0xffffu) << 4) | ((unsigned)n & 0xfu));
	snprintf(p->dir, sizeof(p->dir), "%s/phase-%d-%s", base, n, posix ? "posix" : "sysv");
	if (mkdir(p->dir, 0700) < 0) {
		fprintf(stderr, "chaos: mkdir %s: %s\n", p->dir, strerror(errno));
		exit(3);
	}
	p->log = log_open(p->dir, "driver.log");
	/* For scripts/chaos.sh to clean up after a driver that was killed. */
	char line[96];
	int fd = log_open(p->dir, "endpoint");
	int len = posix ? snprintf(line, sizeof(line), "posix %s\n", p->addr.name)
			: snprintf(line, sizeof(line), "sysv 0x%08x\n", (unsigned)p->addr.key);
	if (write(fd, line, (size_t)len) != len)
		fprintf(stderr, "chaos: %s/endpoint: %s\n", p->dir, strerror(errno));
	close(fd);
	p->srv = (struct child){.role = ROLE_SERVER, .inc = ++p->srv_inc, .ready_fd = -1};
	for (int i = 0; i < p->nclients; i++)
		p->cli[i] = (struct child){
		    .role = ROLE_CLIENT, .cid = (uint32_t)i, .inc = 1, .ready_fd = -1};
	/* A stale endpoint here is from an earlier run that crashed: remove
	 * it. A live one is someone else's (keys come from our pid): leave it. */
	shmq_config cfg;
	addr_config(&p->addr, &cfg);
	int rc = shmq_remove(&cfg, 0);
	if (rc == -EADDRINUSE || rc == -EEXIST) {
		fprintf(stderr, "chaos: %s is in use by someone else: %s\n",
			posix ? p->addr.name : "our System V key", shmq_strerror(rc));
		exit(3);
	}
}

static void remove_tree(const char *dir);

static void print_phase(const struct phase *p, double secs, const struct check_stats *st)
{
	typedef unsigned long long ull;
	char where[96];
	if (p->addr.posix)
		snprintf(where, sizeof(where), "posix /%s", p->addr.name);
	else
		snprintf(where, sizeof(where), "sysv key 0x%08x", (unsigned)p->addr.key);
	printf("chaos: phase %d (%s): %.1f s, %llu acknowledged (%llu pushes, %llu late), "
	       "%llu processed (%llu pipelined, %llu answered out of order), %llu abandoned, "
	       "%llu flushed checked, client kills %llu + %llu SIGTERM, server kills %llu (%llu "
	       "while creating) + %llu graceful stops, server starts %llu, stops %llu clients + "
	       "%llu server (%llu long), violations %llu\n",
	       p->n, where, secs, (ull)st->acked, (ull)st->pushes, (ull)st->acked_late,
	       (ull)st->processed, (ull)st->pipelined, (ull)st->deferred, (ull)st->abandoned,
	       (ull)st->flushed, (ull)p->k.client_kills, (ull)p->k.client_terms,
	       (ull)p->k.server_kills, (ull)p->k.server_early_kills,
	       (ull)(p->k.server_terms + p->k.server_end_terms), (ull)p->k.server_starts,
	       (ull)p->k.stops_client, (ull)p->k.stops_server, (ull)p->k.stops_long,
	       (ull)st->violations);
}

struct totals {
	struct counts k;
	struct check_stats st;
	double secs;
	int phases;
};

static void add_totals(struct totals *t, const struct phase *p, const struct check_stats *st,
		       double secs)
{
	t->phases++;
	t->secs += secs;
	t->k.client_kills += p->k.client_kills;
	t->k.client_terms += p->k.client_terms;
	t->k.client_starts += p->k.client_starts;
	t->k.server_kills += p->k.server_kills;
	t->k.server_terms += p->k.server_terms;
	t->k.server_end_terms += p->k.server_end_terms;
	t->k.server_early_kills += p->k.server_early_kills;
	t->k.server_starts += p->k.server_starts;
	t->k.stops_client += p->k.stops_client;
	t->k.stops_server += p->k.stops_server;
	t->k.stops_long += p->k.stops_long;
	t->st.acked += st->acked;
	t->st.acked_late += st->acked_late;
	t->st.processed += st->processed;
	t->st.unacked_processed += st->unacked_processed;
	t->st.pushes += st->pushes;
	t->st.pipelined += st->pipelined;
	t->st.ooo_client += st->ooo_client;
	t->st.deferred += st->deferred;
	t->st.abandoned += st->abandoned;
	t->st.late_replies += st->late_replies;
	t->st.flushed += st->flushed;
	t->st.flushed_killed += st->flushed_killed;
	t->st.flush_epipe += st->flush_epipe;
	t->st.flush_epipe_graceful += st->flush_epipe_graceful;
	t->st.shutdowns += st->shutdowns;
	t->st.drained += st->drained;
	t->st.unsent_checked += st->unsent_checked;
	t->st.timeouts += st->timeouts;
	t->st.epipe += st->epipe;
	t->st.connects += st->connects;
	t->st.connect_fail += st->connect_fail;
	t->st.connect_eproto += st->connect_eproto;
	t->st.connect_eusers += st->connect_eusers;
	t->st.violations += st->violations;
	t->st.stalls += st->stalls;
	if (st->max_stall_us > t->st.max_stall_us)
		t->st.max_stall_us = st->max_stall_us;
	if (st->max_dead_us > t->st.max_dead_us)
		t->st.max_dead_us = st->max_dead_us;
	if (st->max_call_us > t->st.max_call_us)
		t->st.max_call_us = st->max_call_us;
	if (st->max_ack_gap_us > t->st.max_ack_gap_us)
		t->st.max_ack_gap_us = st->max_ack_gap_us;
	if (st->rss_growth_kb > t->st.rss_growth_kb)
		t->st.rss_growth_kb = st->rss_growth_kb;
}

static int run_phase(const struct opts *o, const char *base, int n, int posix, double secs,
		     struct totals *t)
{
	static struct phase ph;
	struct phase *p = &ph;
	phase_setup(p, o, base, n, posix);
	cur = p;
	alarm((unsigned)secs + 60); /* the phase's hard deadline */
	uint64_t t0 = now_ns();
	start_watchdog(p, secs);
	spawn(p, &p->srv, 0);
	for (int i = 0; i < p->nclients; i++)
		spawn(p, &p->cli[i], 0);
	chaos_loop(p, t0 + (uint64_t)(secs * 1e9));
	if (!abort_sig)
		shutdown_phase(p);
	if (abort_sig)
		emergency_exit();
	stop_watchdog(p);
	alarm(0);
	double took = (double)(now_ns() - t0) / 1e9;
	check_leftovers(p);
	check_strays(p);
	check_stderr(p, 0);
	close(p->log);
	struct check_stats st;
	check_dir(p->dir, p->nclients, o->rss_slack_kb, 0, &st);
	print_phase(p, took, &st);
	add_totals(t, p, &st, took);
	cur = NULL;
	if (st.violations) {
		check_stderr(p, 1);
		return 1;
	}
	if (!o->keep)
		remove_tree(p->dir); /* long soaks would fill the disk */
	return 0;
}

/* ---- options and the run ------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: chaos driver [--seconds N] [--clients N] "
			"[--backend alt|sysv|posix] [--seed S] [--dir D] [--keep] "
			"[--phase-seconds N] [--rss-slack-kb N] [--calm-server] "
			"[--end-order random|server|clients]\n");
	exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.seconds = 60,
			   .phase_seconds = 30,
			   .clients = 8,
			   .backend = "alt",
			   .seed = now_ns() ^ ((uint64_t)getpid() << 32),
			   .rss_slack_kb = 1024};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--keep")) {
			o->keep = 1;
			continue;
		}
		if (!strcmp(a, "--calm-server")) {
			o->calm_server = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		long long n = 0;
		int num = parse_num(v, &n) == 0;
		if (!strcmp(a, "--seconds") && num && n > 0)
			o->seconds = (double)n;
		else if (!strcmp(a, "--phase-seconds") && num && n > 0)
			o->phase_seconds = (double)n;
		else if (!strcmp(a, "--clients") && num && n > 0 && n <= CHAOS_MAX_CLIENTS)
			o->clients = (int)n;
		else if (!strcmp(a, "--seed") && num)
			o->seed = (uint64_t)n;
		else if (!strcmp(a, "--rss-slack-kb") && num && n >= 0)
			o->rss_slack_kb = (long)n;
		else if (!strcmp(a, "--dir"))
			o->dir = v;
		else if (!strcmp(a, "--end-order") &&
			 (!strcmp(v, "random") || !strcmp(v, "server") || !strcmp(v, "clients")))
			o->end_order = !strcmp(v, "server") ? 1 : !strcmp(v, "clients") ? 2 : 0;
		else if (!strcmp(a, "--backend") &&
			 (!strcmp(v, "alt") || !strcmp(v, "sysv") || !strcmp(v, "posix")))
			o->backend = v;
		else
			usage();
	}
}

static void print_totals(const struct totals *t, const char *base, uint64_t seed)
{
	typedef unsigned long long ull;
	const struct counts *k = &t->k;
	const struct check_stats *st = &t->st;
	printf("chaos: TOTAL %.1f s in %d phases, seed %llu\n", t->secs, t->phases, (ull)seed);
	printf("chaos:   requests: %llu acknowledged (%llu of them pushes, %llu late pushes), "
	       "%llu processed (%llu not acknowledged: one-way, abandoned, or cut short)\n",
	       (ull)st->acked, (ull)st->pushes, (ull)st->acked_late, (ull)st->processed,
	       (ull)st->unacked_processed);
	printf("chaos:   pipelined requests %llu; answered out of order: %llu held back by the "
	       "server, %llu seen by clients with SHMQ_ANY_REQUEST\n",
	       (ull)st->pipelined, (ull)st->deferred, (ull)st->ooo_client);
	printf("chaos:   abandoned requests %llu (late replies discarded by the library %llu); "
	       "failed calls checked to have sent nothing %llu\n",
	       (ull)st->abandoned, (ull)st->late_replies, (ull)st->unsent_checked);
	printf("chaos:   flushed messages checked %llu (%llu excused: taken by a server SIGKILLed "
	       "before it logged them); flushes that got EPIPE %llu (%llu after a graceful stop)\n",
	       (ull)st->flushed, (ull)st->flushed_killed, (ull)st->flush_epipe,
	       (ull)st->flush_epipe_graceful);
	printf("chaos:   graceful stops %llu (%llu mid-phase, %llu at a phase's end; %llu "
	       "shutdowns logged), %llu messages received while draining\n",
	       (ull)(k->server_terms + k->server_end_terms), (ull)k->server_terms,
	       (ull)k->server_end_terms, (ull)st->shutdowns, (ull)st->drained);
	printf("chaos:   clients: %llu SIGKILLed, %llu SIGTERMed, %llu started; %llu connects, "
	       "%llu refused (%llu EPROTO, %llu EUSERS); %llu call timeouts, %llu EPIPE\n",
	       (ull)k->client_kills, (ull)k->client_terms, (ull)k->client_starts, (ull)st->connects,
	       (ull)st->connect_fail, (ull)st->connect_eproto, (ull)st->connect_eusers,
	       (ull)st->timeouts, (ull)st->epipe);
	printf("chaos:   servers: %llu SIGKILLed (%llu while creating the endpoint), %llu "
	       "SIGTERMed mid-phase, %llu started\n",
	       (ull)k->server_kills, (ull)k->server_early_kills, (ull)k->server_terms,
	       (ull)k->server_starts);
	printf("chaos:   stops: %llu (%llu of clients, %llu of servers; %llu longer than a "
	       "call's timeout)\n",
	       (ull)(k->stops_client + k->stops_server), (ull)k->stops_client, (ull)k->stops_server,
	       (ull)k->stops_long);
	printf("chaos:   longest call %.0f ms (limit: its timeout + %d ms); longest wait on a "
	       "dead server %.0f ms (limit %d ms); longest wait between acks %.0f ms\n",
	       (double)st->max_call_us / 1000.0, CHAOS_SLACK_MS, (double)st->max_dead_us / 1000.0,
	       CHAOS_DEAD_MS, (double)st->max_ack_gap_us / 1000.0);
	printf("chaos:   machine stalls %llu (longest %.0f ms; not counted against timeouts); "
	       "server RSS growth %ld kB\n",
	       (ull)st->stalls, (double)st->max_stall_us / 1000.0, st->rss_growth_kb);
	printf("chaos:   violations: %llu\n", (ull)st->violations);
	if (st->violations)
		printf("chaos: FAIL (logs in %s)\n", base);
	else
		printf("chaos: PASS\n");
}

/* Our own directory of plain files, one level deep at most. */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char path[PATH_MAX + 256];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (unlink(path) < 0 && errno == EISDIR)
				remove_tree(path);
		}
		closedir(d);
	}
	if (rmdir(dir) < 0)
		fprintf(stderr, "chaos: could not remove %s: %s\n", dir, strerror(errno));
}

int driver_main(int argc, char **argv)
{
	struct opts o;
	parse_opts(argc, argv, &o);
	driver_pid = getpid();
	setpgid(0, 0);		     /* lead a group: strays are easy to find, and to kill */
	prctl(PR_SET_TIMERSLACK, 1); /* precise sleeps for kill_while_creating */
	struct sigaction sa = {.sa_handler = on_abort};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	/* Our output piped into head must not kill us before we clean up. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	char base[1024];
	if (o.dir) {
		if (strlen(o.dir) >= sizeof(base))
			usage();
		snprintf(base, sizeof(base), "%s", o.dir);
		if (mkdir(base, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "chaos: mkdir %s: %s\n", base, strerror(errno));
			return 3;
		}
	} else {
		const char *tmp = getenv("TMPDIR");
		if (!tmp || !*tmp || strlen(tmp) > sizeof(base) - 32)
			tmp = "/tmp";
		snprintf(base, sizeof(base), "%s/shmq-chaos.XXXXXX", tmp);
		if (!mkdtemp(base)) {
			fprintf(stderr, "chaos: mkdtemp: %s\n", strerror(errno));
			return 3;
		}
	}

	int nphases = (int)((o.seconds + o.phase_seconds - 1) / o.phase_seconds);
	if (nphases < 2 && !strcmp(o.backend, "alt") && o.seconds >= 10)
		nphases = 2; /* both backends in every run */
	if (nphases < 1)
		nphases = 1;
	double secs = o.seconds / nphases;
	printf("chaos: %.0f s in %d phase(s) of %.1f s, %d clients, backend %s, seed %llu, logs in "
	       "%s\n",
	       o.seconds, nphases, secs, o.clients, o.backend, (unsigned long long)o.seed, base);

	struct totals t = {0};
	int failed = 0;
	for (int n = 0; n < nphases; n++) {
		int posix = !strcmp(o.backend, "posix") || (!strcmp(o.backend, "alt") && (n & 1));
		failed |= run_phase(&o, base, n, posix, secs, &t);
	}
	print_totals(&t, base, o.seed);
	if (!failed && !o.keep && !o.dir)
		remove_tree(base);
	return failed ? 1 : 0;
}
