/* SPDX-License-Identifier: MIT */
/*
 * Anyone who can write /dev/shm can put a FIFO (or another non-regular file)
 * where an endpoint's file goes: the lock file of a System V key, or a POSIX
 * name. A plain open() of a FIFO for reading waits for a writer, forever:
 * `shmq stat` then hung for everyone. With a FIFO at the path, each call
 * must return at once (each runs in a child with a deadline) and refuse it:
 *  - shmq_inspect, shmq_client_connect, shmq_server_create: -EACCES;
 *  - shmq_list: returns, without listing it;
 *  - shmq_remove: -EACCES, the FIFO left alone; with SHMQ_REMOVE_FORCE it
 *    is unlinked.
 * Run as root, the FIFO is planted by another uid, as in the report.
 */
#include "harness.h"
#include "proc.h"

#include <grp.h>
#include <sys/stat.h>

#define UID_SQUAT 65534
#define CALL_MS	  3000 /* a call that takes this long is hung */

static char fifo_path[128];

static void remove_fifo(void)
{
	if (fifo_path[0])
		unlink(fifo_path);
}

static int call_inspect(const shmq_config *cfg)
{
	shmq_endpoint_info info;
	shmq_slot_info slots[4];
	return shmq_inspect(cfg, &info, slots, 4);
}

static int call_list(const shmq_config *cfg)
{
	static shmq_endpoint_info list[256];
	int n = shmq_list(list, 256);
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < 256; i++) {
		if (cfg->name ? strcmp(list[i].name + 1, cfg->name) == 0
			      : !list[i].name[0] && list[i].key == cfg->key)
			return -EEXIST; /* listed a FIFO */
	}
	return -EACCES; /* what the others return: one expectation for all */
}

static int call_connect(const shmq_config *cfg)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (rc == 0)
		shmq_client_close(c);
	return rc;
}

static int call_create(const shmq_config *cfg)
{
	shmq_server *s;
	int rc = shmq_server_create(&s, cfg);
	if (rc == 0)
		shmq_server_close(s);
	return rc;
}

static int call_remove(const shmq_config *cfg)
{
	return shmq_remove(cfg, 0);
}

static const struct {
	const char *what;
	int (*fn)(const shmq_config *);
} calls[] = {
    {"shmq_inspect", call_inspect},	   {"shmq_list", call_list},
    {"shmq_client_connect", call_connect}, {"shmq_server_create", call_create},
    {"shmq_remove", call_remove},
};

/* fn(cfg) in a child that must return within CALL_MS; what it returned. */
static int bounded(int (*fn)(const shmq_config *), const shmq_config *cfg, const char *what)
{
	int res[2];
	xpipe(res);
	pid_t kid = fork_kid(10);
	if (kid == 0) {
		close(res[0]);
		int rc = fn(cfg);
		_exit(write(res[1], &rc, sizeof(rc)) == sizeof(rc) ? 0 : 1);
	}
	close(res[1]);
	int st = kid_status(kid, CALL_MS);
	if (st == -1) {
		fprintf(stderr, "%s hung on a FIFO at %s (killed after %d ms)\n", what, fifo_path,
			CALL_MS);
		exit(1);
	}
	int rc = 1;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && get(res[0], &rc, sizeof(rc)));
	close(res[0]);
	return rc;
}

static int plant_fifo(const char *path)
{
	if (geteuid() != 0)
		return mkfifo(path, 0666) == 0 ? 0 : -errno;
	int res[2];
	xpipe(res);
	pid_t kid = fork_kid(10);
	if (kid == 0) {
		close(res[0]);
		int rc = 0;
		if (setgroups(0, NULL) < 0 || setgid(UID_SQUAT) < 0 || setuid(UID_SQUAT) < 0)
			rc = mkfifo(path, 0666) == 0 ? 1 : -errno; /* no uid: our own */
		else
			rc = mkfifo(path, 0666) == 0 ? 0 : -errno;
		_exit(write(res[1], &rc, sizeof(rc)) == sizeof(rc) ? 0 : 1);
	}
	close(res[1]);
	int rc = -1;
	CHECK(get(res[0], &rc, sizeof(rc)));
	close(res[0]);
	reap_ok(kid, 5000);
	return rc;
}

static void test_fifo(int posix)
{
	shmq_config cfg = test_config(0, posix);
	ep_path(&cfg, fifo_path, sizeof(fifo_path));
	int who = plant_fifo(fifo_path);
	CHECK(who >= 0);
	struct stat before, st;
	CHECK(lstat(fifo_path, &before) == 0 && S_ISFIFO(before.st_mode));
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int rc = bounded(calls[i].fn, &cfg, calls[i].what);
		if (rc != -EACCES)
			fprintf(stderr, "%s with a FIFO at %s: %d (%s)\n", calls[i].what, fifo_path,
				rc, shmq_strerror(rc));
		CHECK_EQ(rc, -EACCES);
		CHECK(lstat(fifo_path, &st) == 0 && st.st_ino == before.st_ino);
	}
	if (!posix)
		CHECK(shmget(cfg.key, 0, 0) < 0 && errno == ENOENT);
	CHECK_EQ(shmq_remove(&cfg, SHMQ_REMOVE_FORCE), 0);
	CHECK(lstat(fifo_path, &st) < 0 && errno == ENOENT);
	fifo_path[0] = '\0';
	check_nothing_left(&cfg);
	printf("fifo(%s): a FIFO at the endpoint's path (planted by %s) is refused at once by "
	       "inspect, list, connect, create and remove, and left alone; forced remove "
	       "unlinks it\n",
	       posix ? "posix" : "sysv", who == 0 && geteuid() == 0 ? "uid 65534" : "us");
}

int main(void)
{
	setup(60);
	ep_track_test_configs();
	teardown_extra = remove_fifo;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int posix = 0; posix < 2; posix++)
		test_fifo(posix);
	passed = 1;
	return 0;
}
