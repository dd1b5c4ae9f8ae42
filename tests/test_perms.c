/* SPDX-License-Identifier: MIT */
/*
 * Permissions and ownership, with real uids (run as root; else only the
 * mode checks run and the test reports a skip):
 *  - a segment's mode is exactly what was asked (0600 default, 0660), for the
 *    POSIX file, the System V segment and its lock file, whatever the umask;
 *  - another uid cannot connect to a 0600 endpoint (-EACCES), nor take it
 *    over or remove it;
 *  - 0660 shares with the group: a client of another uid in the group
 *    connects if it names the server's uid as trusted (and the server sees
 *    its uid), not otherwise; one asking 0600 refuses the looser segment,
 *    one outside the group is refused;
 *  - objects planted by another uid (System V segment, /dev/shm file, lock
 *    file) are refused and left untouched;
 *  - a symlink planted at the endpoint's path is never followed.
 */
#include "harness.h"
#include "proc.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/shm.h>
#include <sys/stat.h>

#define UID_SRV	  40001 /* server, group GID_SHARE */
#define UID_CLI	  40002 /* client in the group */
#define UID_OUT	  40003 /* client outside it */
#define GID_SHARE 40000
#define GID_OUT	  40003
#define UID_SQUAT 65534 /* the squatter */

#define CHILD_S 30 /* a child's own alarm */

static char target[64]; /* symlink target in /tmp */

/* Besides the endpoints: anything planted at their paths, and the target. */
static void remove_planted_all(void)
{
	for (int i = 0; i < neps; i++) {
		char path[128];
		ep_path(&eps[i], path, sizeof(path));
		unlink(path);
		int id = eps[i].name ? -1 : shmget(eps[i].key, 0, 0);
		if (id >= 0)
			shmctl(id, IPC_RMID, NULL);
	}
	if (target[0])
		unlink(target);
}

static int get_int(int fd)
{
	int v = 1;
	CHECK(read(fd, &v, sizeof(v)) == sizeof(v));
	return v;
}

/* In a child: become uid/gid with no supplementary groups. */
static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		perror("become");
		_exit(9);
	}
	/* A new uid clears the death signal fork_kid() set: set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Root in a user namespace may not have the uids we need. */
static int can_switch_uid(void)
{
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		int ok = setgroups(0, NULL) == 0 && setgid(GID_SHARE) == 0 && setuid(UID_SRV) == 0;
		_exit(ok ? 0 : 1);
	}
	int st = kid_status(pid, 5000);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Run fn(cfg) as uid/gid in a child and return what it returned. */
static int as_user(uid_t uid, gid_t gid, int (*fn)(const shmq_config *), const shmq_config *cfg)
{
	int res[2];
	xpipe(res);
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		close(res[0]);
		become(uid, gid);
		int rc = fn(cfg);
		_exit(write(res[1], &rc, sizeof(rc)) == sizeof(rc) ? 0 : 1);
	}
	close(res[1]);
	int rc = get_int(res[0]);
	close(res[0]);
	reap_ok(pid, 10000);
	return rc;
}

static int do_connect(const shmq_config *cfg)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (rc == 0)
		shmq_client_close(c);
	return rc;
}

static int do_create(const shmq_config *cfg)
{
	shmq_server *s;
	int rc = shmq_server_create(&s, cfg);
	if (rc == 0)
		shmq_server_close(s);
	return rc;
}

static int do_remove(const shmq_config *cfg)
{
	return shmq_remove(cfg, 0);
}

/* A request from this uid; the reply must name our uid as the server saw it. */
static int do_request(const shmq_config *cfg)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (rc < 0)
		return rc;
	char want[32], rep[32];
	int n = snprintf(want, sizeof(want), "uid=%u", (unsigned)geteuid());
	ssize_t r = shmq_client_request(c, "who", 3, rep, sizeof(rep), 5000);
	shmq_client_close(c);
	if (r < 0)
		return (int)r;
	return r == n && memcmp(rep, want, (size_t)n) == 0 ? 0 : -EBADMSG;
}

/* ---- modes ---------------------------------------------------------------- */

static unsigned file_mode(const char *path)
{
	struct stat st;
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	return st.st_mode & 07777u;
}

/* The modes of everything an endpoint consists of, all equal to want. */
static void check_modes(const shmq_config *cfg, unsigned want)
{
	char path[128];
	ep_path(cfg, path, sizeof(path));
	CHECK_EQ(file_mode(path), want);
	if (!cfg->name) {
		struct shmid_ds ds;
		int id = shmget(cfg->key, 0, 0);
		CHECK(id >= 0 && shmctl(id, IPC_STAT, &ds) == 0);
		CHECK_EQ(ds.shm_perm.mode & 0777u, want);
	}
	shmq_endpoint_info info;
	CHECK(shmq_inspect(cfg, &info, NULL, 0) > 0);
	CHECK_EQ(info.mode, want);
}

static void test_modes(void)
{
	static const mode_t masks[] = {022, 077};
	for (int posix = 0; posix < 2; posix++) {
		for (size_t m = 0; m < 2; m++) {
			mode_t old = umask(masks[m]);
			shmq_config cfg = test_config(0, posix);
			shmq_server *s;
			CHECK_EQ(shmq_server_create(&s, &cfg), 0);
			check_modes(&cfg, 0600);
			CHECK_EQ(shmq_server_close(s), 0);
			cfg.mode = 0660;
			CHECK_EQ(shmq_server_create(&s, &cfg), 0);
			check_modes(&cfg, 0660);
			CHECK_EQ(shmq_server_close(s), 0);
			umask(old);
		}
	}
	printf("perms: modes exactly 0600 by default and 0660 when asked, under umask 022 "
	       "and 077 (POSIX file, System V segment, lock file)\n");
}

/* ---- 0600: nobody else ---------------------------------------------------- */

static void test_private(int posix)
{
	shmq_config cfg = test_config(1, posix);
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	CHECK_EQ(as_user(UID_SQUAT, UID_SQUAT, do_connect, &cfg), -EACCES);
	CHECK_EQ(as_user(UID_SQUAT, UID_SQUAT, do_create, &cfg), -EACCES);
	CHECK_EQ(as_user(UID_SQUAT, UID_SQUAT, do_remove, &cfg), -EACCES);
	/* Still ours, and still working. */
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	CHECK_EQ(shmq_client_send(c, "x", 1, 1000), 0);
	char b;
	CHECK_EQ(shmq_server_recv(s, &b, 1, NULL, 1000), 1);
	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_server_close(s), 0);
	printf("perms(%s): uid %d cannot connect to, take or remove a 0600 endpoint: -EACCES\n",
	       posix ? "posix" : "sysv", UID_SQUAT);
}

/* ---- 0660: the group ------------------------------------------------------ */

/* Server as UID_SRV:GID_SHARE under umask 022: answers "who" with the uid it
 * sees for the sender, until hold_fd closes. */
static void group_server(const shmq_config *cfg, int ready_fd, int hold_fd)
{
	become(UID_SRV, GID_SHARE);
	umask(022);
	shmq_server *s;
	int rc = shmq_server_create(&s, cfg);
	if (write(ready_fd, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(2);
	for (;;) {
		char buf[16];
		shmq_msg m;
		ssize_t n = shmq_server_recv(s, buf, sizeof(buf), &m, 50);
		if (n >= 0 && (m.flags & SHMQ_MSG_REQUEST)) {
			shmq_client_info info;
			if (shmq_server_client_info(s, m.from, &info) < 0)
				_exit(3);
			char rep[32];
			int len = snprintf(rep, sizeof(rep), "uid=%u", (unsigned)info.uid);
			if (shmq_server_reply(s, &m, rep, (size_t)len, 5000) < 0)
				_exit(4);
		} else if (n < 0 && n != -ETIMEDOUT) {
			_exit(5);
		}
		struct pollfd p = {.fd = hold_fd, .events = POLLIN};
		if (poll(&p, 1, 0) > 0)
			break;
	}
	shmq_server_close(s);
	_exit(0);
}

static void test_group(int posix)
{
	shmq_config cfg = test_config(2, posix);
	cfg.mode = 0660;
	int ready[2], hold[2];
	xpipe(ready);
	xpipe(hold);
	pid_t srv = fork_kid(CHILD_S);
	if (srv == 0) {
		close(ready[0]);
		close(hold[1]);
		group_server(&cfg, ready[1], hold[0]);
	}
	close(ready[1]);
	close(hold[0]);
	CHECK_EQ(get_int(ready[0]), 0);
	close(ready[0]);

	check_modes(&cfg, 0660);
	char path[128];
	struct stat st;
	ep_path(&cfg, path, sizeof(path));
	CHECK(lstat(path, &st) == 0 && st.st_uid == UID_SRV && st.st_gid == GID_SHARE);

	/* Opening it is not trusting it: the client names the owner it trusts. */
	CHECK_EQ(as_user(UID_CLI, GID_SHARE, do_connect, &cfg), -EACCES);
	shmq_config trusting = cfg;
	trusting.trusted_uid = UID_SRV;
	CHECK_EQ(as_user(UID_CLI, GID_SHARE, do_request, &trusting), 0);
	shmq_config strict = trusting;
	strict.mode = 0600; /* the segment is looser than this client accepts */
	CHECK_EQ(as_user(UID_CLI, GID_SHARE, do_connect, &strict), -EACCES);
	CHECK_EQ(as_user(UID_OUT, GID_OUT, do_connect, &trusting), -EACCES);
	/* The group may use it, not take it over or remove it (not theirs:
	 * refused before its lock is even looked at). */
	CHECK_EQ(as_user(UID_CLI, GID_SHARE, do_create, &cfg), -EACCES);
	CHECK_EQ(as_user(UID_CLI, GID_SHARE, do_remove, &cfg), -EACCES);
	CHECK_EQ(as_user(UID_CLI, GID_SHARE, do_request, &trusting), 0);

	close(hold[1]);
	reap_ok(srv, 10000);
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	printf("perms(%s): 0660 under umask 022 shares with the group (uid %d served when it "
	       "trusts the owner, its uid seen); not trusting the owner, asking 0600 or another "
	       "group is refused: -EACCES\n",
	       posix ? "posix" : "sysv", UID_CLI);
}

/* ---- planted objects ------------------------------------------------------ */

#define PLANTED "planted by someone else"

struct planted {
	struct stat st;
	int shmid;
};

/* What plant() makes: 0 System V segment, 1 POSIX file, 2 System V lock file */
static int plant_kind;

/* As UID_SQUAT: make the object the endpoint would use. */
static int plant(const shmq_config *cfg)
{
	if (plant_kind == 0) {
		int id = shmget(cfg->key, 4096, IPC_CREAT | IPC_EXCL | 0666);
		char *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
		if (p == (void *)-1)
			return -errno;
		memcpy(p, PLANTED, sizeof(PLANTED));
		shmdt(p);
		return 0;
	}
	char path[128];
	ep_path(cfg, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
	if (fd < 0 || fchmod(fd, cfg->mode) < 0 ||
	    write(fd, PLANTED, sizeof(PLANTED)) != sizeof(PLANTED))
		return -errno;
	close(fd);
	return 0;
}

static void planted_state(const shmq_config *cfg, struct planted *p, int sysv_seg)
{
	memset(p, 0, sizeof(*p));
	p->shmid = shmget(cfg->key, 0, 0);
	if (sysv_seg)
		return;
	char path[128];
	ep_path(cfg, path, sizeof(path));
	CHECK(lstat(path, &p->st) == 0);
}

/* Untouched: same object, owner, mode and bytes. */
static void check_planted(const shmq_config *cfg, const struct planted *before, int sysv_seg)
{
	char buf[sizeof(PLANTED)];
	if (sysv_seg) {
		struct shmid_ds ds;
		CHECK_EQ(shmget(cfg->key, 0, 0), before->shmid);
		CHECK(shmctl(before->shmid, IPC_STAT, &ds) == 0);
		CHECK(ds.shm_perm.uid == UID_SQUAT && (ds.shm_perm.mode & 0777u) == 0666);
		char *p = shmat(before->shmid, NULL, SHM_RDONLY);
		CHECK(p != (void *)-1);
		memcpy(buf, p, sizeof(buf));
		shmdt(p);
	} else {
		char path[128];
		struct stat st;
		ep_path(cfg, path, sizeof(path));
		CHECK(lstat(path, &st) == 0);
		CHECK(st.st_ino == before->st.st_ino && st.st_uid == UID_SQUAT &&
		      st.st_mode == before->st.st_mode && st.st_size == before->st.st_size);
		int fd = open(path, O_RDONLY | O_NOFOLLOW);
		CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == sizeof(buf));
		close(fd);
		/* A planted lock file does not get us a segment either. */
		if (!cfg->name)
			CHECK(before->shmid < 0 && shmget(cfg->key, 0, 0) < 0 && errno == ENOENT);
	}
	CHECK(memcmp(buf, PLANTED, sizeof(buf)) == 0);
}

static void remove_planted(const shmq_config *cfg, int sysv_seg)
{
	char path[128];
	ep_path(cfg, path, sizeof(path));
	if (sysv_seg)
		CHECK(shmctl(shmget(cfg->key, 0, 0), IPC_RMID, NULL) == 0);
	else
		CHECK(unlink(path) == 0);
}

static const char *const planted_what[] = {"System V segment", "/dev/shm file", "lock file"};

/* what: as plant_kind; mode: of the planted file */
static void test_planted(int what, unsigned mode, int want)
{
	shmq_config cfg = test_config(3, what == 1);
	cfg.mode = mode;
	plant_kind = what;
	CHECK_EQ(as_user(UID_SQUAT, UID_SQUAT, plant, &cfg), 0);
	struct planted before;
	planted_state(&cfg, &before, what == 0);

	shmq_config asked = cfg;
	asked.mode = 0600;
	shmq_server *s;
	int rc = shmq_server_create(&s, &asked);
	if (rc == 0)
		shmq_server_close(s);
	CHECK_EQ(rc, want);
	check_planted(&cfg, &before, what == 0);
	if (what == 0) { /* we did not leave a lock file of ours either */
		char path[128];
		ep_path(&cfg, path, sizeof(path));
		CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	}
	/* Nor does a client use it. */
	shmq_client *c;
	CHECK(shmq_client_connect(&c, &asked) < 0);
	check_planted(&cfg, &before, what == 0);
	remove_planted(&cfg, what == 0);
	printf("perms: a %04o %s planted by uid %d is refused (%s) and left untouched\n", mode,
	       planted_what[what], UID_SQUAT, want == -EEXIST ? "-EEXIST" : "-EACCES");
}

/* ---- symlinks ------------------------------------------------------------- */

static void test_symlink(int posix)
{
	shmq_config cfg = test_config(0, posix);
	char path[128];
	ep_path(&cfg, path, sizeof(path));
	snprintf(target, sizeof(target), "/tmp/shmq-test-target-%d", (int)getpid());
	int fd = open(target, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, PLANTED, sizeof(PLANTED)) == sizeof(PLANTED));
	close(fd);
	struct stat before, after;
	CHECK(stat(target, &before) == 0);
	CHECK(symlink(target, path) == 0);

	shmq_server *s;
	int rc = shmq_server_create(&s, &cfg);
	if (rc == 0)
		shmq_server_close(s);
	CHECK_EQ(rc, -EACCES);
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), -EACCES);
	CHECK_EQ(shmq_remove(&cfg, 0), -EACCES);
	if (!posix)
		CHECK(shmget(cfg.key, 0, 0) < 0 && errno == ENOENT);

	CHECK(stat(target, &after) == 0);
	CHECK(after.st_ino == before.st_ino && after.st_size == before.st_size &&
	      after.st_mode == before.st_mode && after.st_uid == before.st_uid &&
	      after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
	      after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
	char buf[sizeof(PLANTED)];
	fd = open(target, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == sizeof(buf));
	close(fd);
	CHECK(memcmp(buf, PLANTED, sizeof(buf)) == 0);
	struct stat l;
	CHECK(lstat(path, &l) == 0 && S_ISLNK(l.st_mode));
	CHECK(unlink(path) == 0 && unlink(target) == 0);
	target[0] = '\0';
	printf("perms(%s): a symlink at %s is not followed (create, connect, remove: "
	       "-EACCES); its target is unchanged\n",
	       posix ? "posix" : "sysv", path);
}

int main(void)
{
	setup(60); /* passed stays 0: everything is removed on every exit */
	ep_track_test_configs();
	teardown_extra = remove_planted_all;
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_modes();
	if (geteuid() != 0)
		SKIP("not root: only the mode checks ran (they passed)");
	if (!can_switch_uid())
		SKIP("root cannot switch to uid %d here (user namespace?): only the mode "
		     "checks ran (they passed)",
		     UID_SRV);
	for (int posix = 0; posix < 2; posix++) {
		test_private(posix);
		test_group(posix);
		test_symlink(posix);
	}
	test_planted(0, 0666, -EEXIST);
	test_planted(1, 0666, -EACCES);
	test_planted(1, 0600, -EACCES);
	test_planted(2, 0666, -EACCES);
	test_planted(2, 0600, -EACCES);
	return 0;
}
