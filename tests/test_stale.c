/* SPDX-License-Identifier: MIT */
/*
 * Stale endpoints and ownership of a key or name, System V and POSIX:
 *  - a SIGKILLed server leaves a stale endpoint: inspect says not live, a
 *    client is refused (-ECONNREFUSED), a new server reclaims it;
 *  - a live one is never taken (-EADDRINUSE from create and from remove);
 *  - remove on a stale one leaves nothing behind;
 *  - a client of the dead server is not fooled by the new server's lock;
 *  - a segment that is not shmq's is refused (-EEXIST) and left untouched;
 *  - two servers racing for one key or name: exactly one wins.
 */
#include "harness.h"
#include "proc.h"

#include <fcntl.h>
#include <sys/shm.h>
#include <sys/stat.h>

#define RACES 50

#define CHILD_S 30 /* a child's own alarm */

static const char *where(const shmq_config *cfg)
{
	return cfg->name ? "posix" : "sysv";
}

static int path_exists(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return 1;
	CHECK(errno == ENOENT);
	return 0;
}

/* No System V segment for the key, no lock file, no /dev/shm/<name>. */
static void nothing_left(const shmq_config *cfg)
{
	char path[128];
	ep_path(cfg, path, sizeof(path));
	if (!cfg->name)
		CHECK(shmget(cfg->key, 0, 0) < 0 && errno == ENOENT);
	if (path_exists(path))
		fprintf(stderr, "left behind: %s\n", path);
	CHECK(!path_exists(path));
}

/* ---- a server in a child, to be killed ---------------------------------- */

/* Creates the endpoint, reports the result, serves until hold_fd closes. */
static void server_child(const shmq_config *cfg, int res_fd, int hold_fd)
{
	shmq_server *s;
	int rc = shmq_server_create(&s, cfg);
	if (write(res_fd, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(rc < 0 ? 0 : 2);
	wait_eof(hold_fd);
	shmq_server_close(s);
	_exit(0);
}

static pid_t start_server(const shmq_config *cfg, int *hold_wr)
{
	int res[2], hold[2];
	xpipe(res);
	xpipe(hold);
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		close(res[0]);
		close(hold[1]);
		server_child(cfg, res[1], hold[0]);
	}
	close(res[1]);
	close(hold[0]);
	int rc = -1;
	CHECK(get(res[0], &rc, sizeof(rc)));
	close(res[0]);
	CHECK_EQ(rc, 0);
	*hold_wr = hold[1];
	return pid;
}

static void kill_server(pid_t pid, int hold_wr)
{
	CHECK(kill(pid, SIGKILL) == 0);
	reap_killed(pid);
	close(hold_wr);
}

/* ---- stale after SIGKILL, reclaim, old clients --------------------------- */

static void test_stale_and_reclaim(const shmq_config *cfg)
{
	int hold;
	pid_t pid = start_server(cfg, &hold);
	shmq_endpoint_info info;
	CHECK(shmq_inspect(cfg, &info, NULL, 0) > 0);
	CHECK_EQ(info.live, 1);
	CHECK_EQ(info.server_pid, pid);

	/* Live: nobody takes it, nobody removes it. */
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, cfg), -EADDRINUSE);
	CHECK_EQ(shmq_remove(cfg, 0), -EADDRINUSE);
	CHECK(shmq_inspect(cfg, &info, NULL, 0) > 0);
	CHECK_EQ(info.live, 1);

	shmq_client *old;
	CHECK_EQ(shmq_client_connect(&old, cfg), 0);
	kill_server(pid, hold);

	/* Stale. */
	CHECK(shmq_inspect(cfg, &info, NULL, 0) > 0);
	CHECK_EQ(info.live, 0);
	CHECK_EQ(info.server_pid, pid);
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, cfg), -ECONNREFUSED);

	/* Reclaimed by a new server, which works. */
	CHECK_EQ(shmq_server_create(&s, cfg), 0);
	CHECK(shmq_inspect(cfg, &info, NULL, 0) > 0);
	CHECK_EQ(info.live, 1);
	CHECK_EQ(info.server_pid, getpid());
	CHECK_EQ(shmq_client_connect(&c, cfg), 0);
	CHECK_EQ(shmq_client_send(c, "hi", 2, 1000), 0);
	char buf[16];
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, 1000), 2);
	CHECK(memcmp(buf, "hi", 2) == 0);

	/* The dead server's client: its server is gone, whoever owns the key
	 * now. What it sends lands in the old segment, never at the new server. */
	uint64_t t0 = now_ns();
	CHECK_EQ(shmq_client_recv(old, buf, sizeof(buf), 3000), -EPIPE);
	double ms = (double)(now_ns() - t0) / 1e6;
	CHECK(ms < 1000);
	CHECK_EQ(shmq_client_check(old), -EPIPE);
	CHECK_EQ(shmq_client_send(old, "old", 3, 0), -EPIPE);
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), NULL, 200), -ETIMEDOUT);
	CHECK_EQ(shmq_client_close(old), 0);
	printf("stale(%s): killed server's endpoint refused (-ECONNREFUSED), reclaimed; "
	       "its old client got -EPIPE in %.1f ms\n",
	       where(cfg), ms);

	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_server_close(s), 0);
	nothing_left(cfg);
}

/* ---- shmq_remove: stale yes, live no ------------------------------------- */

static void test_remove(const shmq_config *cfg)
{
	CHECK_EQ(shmq_remove(cfg, 0), -ENOENT);
	int hold;
	pid_t pid = start_server(cfg, &hold);
	CHECK_EQ(shmq_remove(cfg, 0), -EADDRINUSE);
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, cfg), 0); /* untouched by the refusal */
	CHECK_EQ(shmq_client_close(c), 0);
	kill_server(pid, hold);
	CHECK_EQ(shmq_remove(cfg, 0), 0);
	nothing_left(cfg);
	CHECK_EQ(shmq_remove(cfg, 0), -ENOENT);
	printf("stale(%s): remove refuses a live endpoint, removes a stale one fully\n",
	       where(cfg));
}

/* ---- segments that are not shmq's ---------------------------------------- */

#define FOREIGN_BYTES "someone else's data, not a shmq endpoint"

static int foreign_sysv(int key)
{
	int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	CHECK(id >= 0);
	char *p = shmat(id, NULL, 0);
	CHECK(p != (void *)-1);
	memcpy(p, FOREIGN_BYTES, sizeof(FOREIGN_BYTES));
	CHECK(shmdt(p) == 0);
	return id;
}

/* The foreign segment is still there, same id, same bytes. */
static int foreign_sysv_ok(int key, int id)
{
	char *p = shmget(key, 0, 0) == id ? shmat(id, NULL, SHM_RDONLY) : (void *)-1;
	if (p == (void *)-1)
		return 0;
	int same = memcmp(p, FOREIGN_BYTES, sizeof(FOREIGN_BYTES)) == 0;
	shmdt(p);
	return same;
}

/* A failed expectation ends the sub-test but not the program, so that one
 * library bug does not hide the next; main() fails if any did. */
#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: EXPECT failed: %s\n", __FILE__, __LINE__, #cond);  \
			harness_failures++;                                                        \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static void test_foreign_sysv(void)
{
	shmq_config cfg = test_config(1, 0);
	int id = foreign_sysv(cfg.key);
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), -EEXIST);
	CHECK(foreign_sysv_ok(cfg.key, id));
	char path[128];
	ep_path(&cfg, path, sizeof(path));
	CHECK(!path_exists(path));
	shmq_client *c;
	CHECK(shmq_client_connect(&c, &cfg) < 0);
	CHECK_EQ(shmq_remove(&cfg, 0), -EEXIST);
	CHECK(foreign_sysv_ok(cfg.key, id));
	CHECK_EQ(shmq_remove(&cfg, SHMQ_REMOVE_FORCE), 0);
	nothing_left(&cfg);
	printf("stale(sysv): a foreign segment on the key is refused (-EEXIST) and left "
	       "untouched, removed only with SHMQ_REMOVE_FORCE\n");
}

/* A shmq server died, its segment was removed by hand (ipcrm), and a foreign
 * one took the key: the stale lock file names another segment, so the
 * foreign one is still not shmq's to remove or to take. */
static void test_foreign_sysv_after_stale(void)
{
	shmq_config cfg = test_config(1, 0);
	int hold;
	pid_t pid = start_server(&cfg, &hold);
	kill_server(pid, hold);
	int old = shmget(cfg.key, 0, 0);
	CHECK(old >= 0 && shmctl(old, IPC_RMID, NULL) == 0);
	int id = foreign_sysv(cfg.key);
	CHECK(id != old);
	int rc = shmq_remove(&cfg, 0);
	if (rc != -EEXIST)
		fprintf(stderr, "shmq_remove over a stale lock file + foreign segment: %d (%s)\n",
			rc, shmq_strerror(rc));
	EXPECT(rc == -EEXIST);
	EXPECT(foreign_sysv_ok(cfg.key, id));
	shmq_server *s;
	EXPECT(shmq_server_create(&s, &cfg) == -EEXIST);
	EXPECT(foreign_sysv_ok(cfg.key, id));
	EXPECT(shmq_remove(&cfg, 0) == -EEXIST);
	EXPECT(foreign_sysv_ok(cfg.key, id));
	CHECK_EQ(shmq_remove(&cfg, SHMQ_REMOVE_FORCE), 0);
	nothing_left(&cfg);
	printf("stale(sysv): a foreign segment behind a stale lock file is refused too\n");
}

/* The same for a file in /dev/shm with the endpoint's name that holds
 * someone else's data. */
static void test_foreign_posix(void)
{
	shmq_config cfg = test_config(1, 1);
	char path[128];
	ep_path(&cfg, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, FOREIGN_BYTES, sizeof(FOREIGN_BYTES)) == sizeof(FOREIGN_BYTES));
	struct stat before, after;
	CHECK(fstat(fd, &before) == 0);

	shmq_server *s;
	int rc = shmq_server_create(&s, &cfg);
	if (rc == 0)
		shmq_server_close(s);
	char buf[sizeof(FOREIGN_BYTES)];
	int same = lstat(path, &after) == 0 && after.st_ino == before.st_ino &&
		   after.st_size == before.st_size &&
		   pread(fd, buf, sizeof(buf), 0) == sizeof(buf) &&
		   memcmp(buf, FOREIGN_BYTES, sizeof(buf)) == 0;
	close(fd);
	if (rc != -EEXIST || !same)
		fprintf(stderr, "server_create over a foreign /dev/shm file: %d (%s), file %s\n",
			rc, shmq_strerror(rc), same ? "intact" : "replaced");
	EXPECT(rc == -EEXIST);
	EXPECT(same);
	EXPECT(shmq_remove(&cfg, 0) == -EEXIST);
	EXPECT(path_exists(path));
	CHECK_EQ(shmq_remove(&cfg, SHMQ_REMOVE_FORCE), 0);
	nothing_left(&cfg);
	printf("stale(posix): a foreign file with the endpoint's name is refused (-EEXIST) "
	       "and left untouched\n");
}

/* ---- two servers at the same instant ------------------------------------- */

struct race_res {
	pid_t pid;
	int rc;
};

static void racer(const shmq_config *cfg, int start_fd, int res_fd, int done_fd)
{
	char c;
	if (read(start_fd, &c, 1) != 0) /* released together by EOF */
		_exit(2);
	shmq_server *s;
	struct race_res r = {getpid(), shmq_server_create(&s, cfg)};
	if (write(res_fd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	if (r.rc == 0) {
		wait_eof(done_fd); /* hold the endpoint until the loser has tried */
		shmq_server_close(s);
	}
	_exit(0);
}

static void test_race(const shmq_config *cfg)
{
	int wins[2] = {0};
	for (int round = 0; round < RACES; round++) {
		int start[2], res[2], done[2];
		xpipe(start);
		xpipe(res);
		xpipe(done);
		pid_t pid[2];
		for (int i = 0; i < 2; i++) {
			if ((pid[i] = fork_kid(CHILD_S)) == 0) {
				close(start[1]);
				close(res[0]);
				close(done[1]);
				racer(cfg, start[0], res[1], done[0]);
			}
		}
		close(start[0]);
		close(res[1]);
		close(done[0]);
		close(start[1]); /* go */
		struct race_res r[2];
		CHECK(get(res[0], &r[0], sizeof(r[0])) && get(res[0], &r[1], sizeof(r[1])));
		close(res[0]);
		int winner = r[0].rc == 0 ? 0 : 1;
		if (!((r[winner].rc == 0 && r[!winner].rc == -EADDRINUSE)))
			fprintf(stderr, "race %d: rc %d and %d\n", round, r[0].rc, r[1].rc);
		CHECK_EQ(r[winner].rc, 0);
		CHECK_EQ(r[!winner].rc, -EADDRINUSE);
		wins[r[winner].pid == pid[1]]++;
		close(done[1]);
		for (int i = 0; i < 2; i++) {
			int st = reap(pid[i], 5000);
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		nothing_left(cfg);
	}
	printf("stale(%s): %d races of two servers: one winner, one -EADDRINUSE each time "
	       "(first-forked won %d, second %d)\n",
	       where(cfg), RACES, wins[0], wins[1]);
}

int main(void)
{
	setup(100); /* passed stays 0: everything is removed on every exit */
	ep_track_test_configs();
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (int posix = 0; posix < 2; posix++) {
		shmq_config cfg = test_config(0, posix);
		test_stale_and_reclaim(&cfg);
		test_remove(&cfg);
		cfg = test_config(2, posix);
		test_race(&cfg);
	}
	test_foreign_sysv();
	test_foreign_sysv_after_stale();
	test_foreign_posix();
	return harness_failures ? 1 : 0;
}
