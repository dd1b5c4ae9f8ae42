/* SPDX-License-Identifier: MIT */
/*
 * Whom a client trusts (issue 12, item 5). Being able to open a segment is
 * not trusting it: root can open anything, a group member any 0660 file of
 * the group's, so a client that asked --mode 0660 used to send its lines to
 * whichever user had started a server on the key first. Now a client
 * accepts an endpoint owned by its own euid; by the uid it names
 * (cfg.trusted_uid); or by root when its mode shares with group or others.
 * With real uids (root only; skipped otherwise), for each backend:
 *  - root, mode 0660, a server of uid 65534's: refused (-EACCES); naming
 *    65534 as trusted: served; naming another uid: refused; naming 65534
 *    but asking 0600 of a 0660 segment: refused (looser than asked);
 *  - uid 40002 and a server of uid 40001's, both in one group, 0660: the
 *    same, without root's power to open anything;
 *  - a root server at 0666, a client of uid 40002 asking 0666: served (root
 *    is trusted when sharing), asking 0600: refused;
 *  - System V: a lock file and a segment of different owners are refused
 *    whichever of the two the client trusts.
 */
#include "harness.h"
#include "proc.h"

#include <grp.h>
#include <sys/shm.h>
#include <sys/stat.h>

#define UID_NOBODY 65534
#define UID_A	   40001
#define UID_B	   40002
#define GID_AB	   40000

#define CHILD_S 30

static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		_exit(9);
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a new uid clears it */
}

static int can_switch_uid(void)
{
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		become(UID_A, GID_AB);
		_exit(0);
	}
	int st = kid_status(pid, 5000);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

struct server_kid {
	pid_t pid;
	int hold; /* close to stop it */
};

/* A server as uid:gid (uid 0: as root, in a child all the same) that echoes
 * requests until told to stop. */
static struct server_kid serve_as(uid_t uid, gid_t gid, const shmq_config *cfg)
{
	int ready[2], hold[2];
	xpipe(ready);
	xpipe(hold);
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		if (uid != 0)
			become(uid, gid);
		shmq_server *s;
		int rc = shmq_server_create(&s, cfg);
		if (write(ready[1], &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
			_exit(2);
		for (;;) {
			char buf[32];
			shmq_msg m;
			ssize_t n = shmq_server_recv(s, buf, sizeof(buf), &m, 20);
			if (n >= 0 && (m.flags & SHMQ_MSG_REQUEST))
				shmq_server_reply(s, &m, buf, (size_t)n, 1000);
			else if (n < 0 && n != -ETIMEDOUT)
				_exit(3);
			struct pollfd p = {.fd = hold[0], .events = POLLIN};
			if (poll(&p, 1, 0) > 0)
				break;
		}
		shmq_server_close(s);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	int rc = 1;
	CHECK(get(ready[0], &rc, sizeof(rc)));
	close(ready[0]);
	CHECK_EQ(rc, 0);
	return (struct server_kid){pid, hold[1]};
}

static void stop(struct server_kid k)
{
	close(k.hold);
	reap_ok(k.pid, 10000);
}

/* Connect and make one request: 0, or what failed. */
static int try_request(shmq_config cfg)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, &cfg);
	if (rc < 0)
		return rc;
	char rep[8];
	ssize_t n = shmq_client_request(c, "who", 3, rep, sizeof(rep), 5000);
	shmq_client_close(c);
	return n == 3 ? 0 : n < 0 ? (int)n : -EBADMSG;
}

/* The same as uid:gid, in a child. */
static int request_as(uid_t uid, gid_t gid, shmq_config cfg)
{
	int res[2];
	xpipe(res);
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		close(res[0]);
		become(uid, gid);
		int rc = try_request(cfg);
		_exit(write(res[1], &rc, sizeof(rc)) == sizeof(rc) ? 0 : 1);
	}
	close(res[1]);
	int rc = 1;
	CHECK(get(res[0], &rc, sizeof(rc)));
	close(res[0]);
	reap_ok(pid, 10000);
	return rc;
}

static shmq_config with(shmq_config cfg, unsigned mode, uid_t trusted)
{
	cfg.mode = mode;
	cfg.trusted_uid = trusted;
	return cfg;
}

static const char *backend(int posix)
{
	return posix ? "posix" : "sysv";
}

static void test_root_client(int posix)
{
	shmq_config cfg = test_config(0, posix);
	cfg.mode = 0660;
	struct server_kid k = serve_as(UID_NOBODY, UID_NOBODY, &cfg);
	CHECK_EQ(try_request(cfg), -EACCES);
	CHECK_EQ(try_request(with(cfg, 0660, UID_NOBODY)), 0);
	CHECK_EQ(try_request(with(cfg, 0660, UID_A)), -EACCES);
	CHECK_EQ(try_request(with(cfg, 0600, UID_NOBODY)), -EACCES);
	CHECK_EQ(try_request(with(cfg, 0777, SHMQ_UID_NONE)), -EACCES);
	stop(k);
	check_nothing_left(&cfg);
	printf("owner(%s): root asking 0660 refuses uid %d's endpoint unless it names that uid "
	       "(then served)\n",
	       backend(posix), UID_NOBODY);
}

static void test_group_client(int posix)
{
	shmq_config cfg = test_config(1, posix);
	cfg.mode = 0660;
	struct server_kid k = serve_as(UID_A, GID_AB, &cfg);
	CHECK_EQ(request_as(UID_B, GID_AB, cfg), -EACCES);
	CHECK_EQ(request_as(UID_B, GID_AB, with(cfg, 0660, UID_A)), 0);
	CHECK_EQ(request_as(UID_B, GID_AB, with(cfg, 0660, UID_NOBODY)), -EACCES);
	stop(k);
	check_nothing_left(&cfg);
	printf("owner(%s): uid %d asking 0660 of a group endpoint of uid %d's: refused unless it "
	       "names %d\n",
	       backend(posix), UID_B, UID_A, UID_A);
}

static void test_root_server(int posix)
{
	shmq_config cfg = test_config(2, posix);
	cfg.mode = 0666;
	struct server_kid k = serve_as(0, 0, &cfg);
	CHECK_EQ(request_as(UID_B, GID_AB, cfg), 0);
	CHECK_EQ(request_as(UID_B, GID_AB, with(cfg, 0600, SHMQ_UID_NONE)), -EACCES);
	stop(k);
	check_nothing_left(&cfg);
	printf("owner(%s): a root endpoint at 0666 serves uid %d asking 0666, not asking 0600\n",
	       backend(posix), UID_B);
}

/* System V: the lock file and the segment must have one owner. */
static void test_mixed_owners(void)
{
	shmq_config cfg = test_config(3, 0);
	cfg.mode = 0660;
	struct server_kid k = serve_as(UID_NOBODY, UID_NOBODY, &cfg);
	char path[128];
	ep_path(&cfg, path, sizeof(path));
	CHECK(chown(path, UID_A, (gid_t)-1) == 0); /* root may: a stand-in for a plant */
	CHECK_EQ(try_request(with(cfg, 0660, UID_A)), -EACCES);
	CHECK_EQ(try_request(with(cfg, 0660, UID_NOBODY)), -EACCES);
	CHECK(chown(path, UID_NOBODY, (gid_t)-1) == 0);
	CHECK_EQ(try_request(with(cfg, 0660, UID_NOBODY)), 0);
	stop(k);
	check_nothing_left(&cfg);
	printf("owner(sysv): a lock file and a segment of different owners are refused\n");
}

int main(void)
{
	setup(60);
	ep_track_test_configs();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0)
		SKIP("not root: owners other than ourselves need real uids");
	if (!can_switch_uid())
		SKIP("root cannot switch to uid %d here (user namespace?)", UID_A);
	for (int posix = 0; posix < 2; posix++) {
		test_root_client(posix);
		test_group_client(posix);
		test_root_server(posix);
	}
	test_mixed_owners();
	passed = 1;
	return 0;
}
