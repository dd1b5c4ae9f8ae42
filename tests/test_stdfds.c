/* SPDX-License-Identifier: MIT */
/*
 * A process started with standard input, output or error closed (`shmq
 * server >&-`, `shmq client <&-`) must not get the library's files on fds
 * 0-2: its next printf would land in the lock file or the segment's header,
 * its next read of "standard input" would read them. For each backend:
 *  - a server created with 0-2 closed leaves them closed and every fd it
 *    opened close-on-exec; bytes written to 0-2 afterwards (its banner) go
 *    nowhere; clients then connect and are answered;
 *  - a client connected with 0-2 closed likewise; another client connects
 *    after it, and the first one's message arrives intact and alone;
 *  - shmq_inspect, shmq_list and shmq_remove work with 0-2 closed.
 */
#include "harness.h"
#include "proc.h"

#include <dirent.h>
#include <fcntl.h>

#define CHILD_S 20

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* The set of open fds, as a bitmap of the first 1024. */
static void open_fds(unsigned char set[128])
{
	memset(set, 0, 128);
	DIR *d = opendir("/proc/self/fd");
	CHECK(d);
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != self && fd < 1024)
			set[fd / 8] |= (unsigned char)(1u << (fd % 8));
	}
	closedir(d);
}

/* What a child with 0-2 closed found; written to the parent. */
struct report {
	int rc;		  /* of the library call */
	int low_open;	  /* fds 0-2 open after it */
	int no_cloexec;	  /* fds it opened without FD_CLOEXEC */
	int junk_written; /* writes to 0-2 that succeeded */
};

/* Run call() with 0-2 closed, fill r, then give stderr back (for CHECK). */
static void with_stdio_closed(int (*call)(void *), void *arg, struct report *r)
{
	int err = fcntl(2, F_DUPFD_CLOEXEC, 10);
	CHECK(err >= 0);
	unsigned char before[128], after[128];
	open_fds(before);
	close(0);
	close(1);
	close(2);
	r->rc = call(arg);
	r->low_open = fd_open(0) + fd_open(1) + fd_open(2);
	/* What a tool does next: print its banner, report an error. */
	static const char junk[] = "Server: Shared memory created (key 1234).\n";
	r->junk_written = 0;
	for (int fd = 0; fd < 3; fd++)
		r->junk_written += write(fd, junk, sizeof(junk) - 1) > 0;
	CHECK(dup2(err, 2) == 2);
	close(err);
	open_fds(after);
	r->no_cloexec = 0;
	for (int fd = 3; fd < 1024; fd++) {
		int is_new = (after[fd / 8] & ~before[fd / 8]) & (1u << (fd % 8));
		if (is_new && fd != 2 && !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			r->no_cloexec++;
	}
}

static void check_report(const struct report *r, const char *what)
{
	if (r->rc < 0 || r->low_open || r->no_cloexec || r->junk_written)
		fprintf(stderr,
			"%s with 0-2 closed: rc %d (%s), %d of fds 0-2 opened, %d new fds "
			"without FD_CLOEXEC, %d writes to 0-2 landed\n",
			what, r->rc, shmq_strerror(r->rc), r->low_open, r->no_cloexec,
			r->junk_written);
	CHECK_EQ(r->rc, 0);
	CHECK_EQ(r->low_open, 0);
	CHECK_EQ(r->no_cloexec, 0);
	CHECK_EQ(r->junk_written, 0);
}

/* ---- a server with 0-2 closed --------------------------------------------- */

struct srv_arg {
	shmq_config cfg;
	shmq_server *s;
};

static int create_server(void *p)
{
	struct srv_arg *a = p;
	return shmq_server_create(&a->s, &a->cfg);
}

static void test_server(int posix)
{
	shmq_config cfg = test_config(0, posix);
	int rep[2], hold[2];
	xpipe(rep);
	xpipe(hold);
	pid_t kid = fork_kid(CHILD_S);
	if (kid == 0) {
		close(rep[0]);
		close(hold[1]);
		struct srv_arg a = {.cfg = cfg};
		struct report r;
		with_stdio_closed(create_server, &a, &r);
		own_srv = a.s;
		if (write(rep[1], &r, sizeof(r)) != sizeof(r) || r.rc < 0)
			_exit(2);
		/* Echo requests until the parent lets go. */
		char buf[64];
		for (;;) {
			shmq_msg m;
			ssize_t n = shmq_server_recv(a.s, buf, sizeof(buf), &m, 20);
			if (n >= 0 && shmq_server_reply(a.s, &m, buf, (size_t)n, 1000) < 0)
				_exit(3);
			if (n < 0 && n != -ETIMEDOUT)
				_exit(4);
			struct pollfd pf = {.fd = hold[0], .events = POLLIN};
			if (poll(&pf, 1, 0) > 0)
				break;
		}
		exit(0); /* at_exit closes own_srv */
	}
	close(rep[1]);
	close(hold[0]);
	struct report r;
	CHECK(get(rep[0], &r, sizeof(r)));
	close(rep[0]);
	check_report(&r, "shmq_server_create");
	/* The banner did not land in the lock file or the header: clients
	 * connect and are answered. */
	for (int i = 0; i < 2; i++) {
		shmq_client *c;
		CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
		char buf[8];
		CHECK_EQ(shmq_client_request(c, "ping", 4, buf, sizeof(buf), 5000), 4);
		CHECK(memcmp(buf, "ping", 4) == 0);
		CHECK_EQ(shmq_client_close(c), 0);
	}
	close(hold[1]);
	reap_ok(kid, 10000);
	check_nothing_left(&cfg);
	printf("stdfds(%s): a server created with 0-2 closed keeps off them (its banner goes "
	       "nowhere); clients connect and are answered\n",
	       posix ? "posix" : "sysv");
}

/* ---- a client with 0-2 closed --------------------------------------------- */

struct cli_arg {
	shmq_config cfg;
	shmq_client *c;
};

static int connect_client(void *p)
{
	struct cli_arg *a = p;
	return shmq_client_connect(&a->c, &a->cfg);
}

static void test_client(int posix)
{
	shmq_config cfg = test_config(1, posix);
	CHECK_EQ(shmq_server_create(&own_srv, &cfg), 0);
	int rep[2];
	xpipe(rep);
	pid_t kid = fork_kid(CHILD_S);
	if (kid == 0) {
		close(rep[0]);
		struct cli_arg a = {.cfg = cfg};
		struct report r;
		with_stdio_closed(connect_client, &a, &r);
		if (write(rep[1], &r, sizeof(r)) != sizeof(r) || r.rc < 0)
			_exit(2);
		int rc = shmq_client_send(a.c, "from the child", 14, 5000);
		shmq_client_close(a.c);
		_exit(rc == 0 ? 0 : 3);
	}
	close(rep[1]);
	struct report r;
	CHECK(get(rep[0], &r, sizeof(r)));
	close(rep[0]);
	reap_ok(kid, 10000);
	check_report(&r, "shmq_client_connect");

	/* Its message, and nothing else (no header or lock record read as
	 * input, no junk), then another client connects. */
	char buf[64];
	CHECK_EQ(shmq_server_recv(own_srv, buf, sizeof(buf), NULL, 5000), 14);
	CHECK(memcmp(buf, "from the child", 14) == 0);
	CHECK_EQ(shmq_server_recv(own_srv, buf, sizeof(buf), NULL, 50), -ETIMEDOUT);
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	CHECK_EQ(shmq_client_send(c, "next", 4, 1000), 0);
	CHECK_EQ(shmq_server_recv(own_srv, buf, sizeof(buf), NULL, 5000), 4);
	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_server_close(own_srv), 0);
	own_srv = NULL;
	check_nothing_left(&cfg);
	printf("stdfds(%s): a client connected with 0-2 closed keeps off them; the next "
	       "client connects\n",
	       posix ? "posix" : "sysv");
}

/* ---- administration with 0-2 closed --------------------------------------- */

static int admin_calls(void *p)
{
	const shmq_config *cfg = p;
	shmq_endpoint_info info, list[16];
	shmq_slot_info slots[4];
	int rc = shmq_inspect(cfg, &info, slots, 4);
	if (rc < 0)
		return rc;
	if ((rc = shmq_list(list, 16)) < 0)
		return rc;
	shmq_config none = *cfg;
	none.key = test_key(3);
	none.name = none.name ? test_name(3) : NULL;
	rc = shmq_remove(&none, 0);
	return rc == -ENOENT ? 0 : rc < 0 ? rc : -EEXIST;
}

static void test_admin(int posix)
{
	shmq_config cfg = test_config(2, posix);
	CHECK_EQ(shmq_server_create(&own_srv, &cfg), 0);
	pid_t kid = fork_kid(CHILD_S);
	if (kid == 0) {
		own_srv = NULL;
		struct report r;
		with_stdio_closed(admin_calls, &cfg, &r);
		check_report(&r, "shmq_inspect, shmq_list, shmq_remove");
		_exit(0);
	}
	reap_ok(kid, 10000);
	CHECK_EQ(shmq_server_close(own_srv), 0);
	own_srv = NULL;
	printf("stdfds(%s): inspect, list and remove work with 0-2 closed\n",
	       posix ? "posix" : "sysv");
}

int main(void)
{
	setup(60);
	ep_track_test_configs();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int posix = 0; posix < 2; posix++) {
		test_server(posix);
		test_client(posix);
		test_admin(posix);
	}
	passed = 1;
	return 0;
}
