/* SPDX-License-Identifier: MIT */
/*
 * Connecting while a server starts, and to a live server whose header is
 * corrupt (issue 12, item 6). shmq_client_connect says:
 *  - -EAGAIN only while a live server is still setting its endpoint up
 *    (System V: its lock file exists and is locked, but its record is not
 *    marked ready); a client that polls from the moment the endpoint's file
 *    appears sees nothing but -EAGAIN, then success (never -ENOENT, never
 *    -EPROTO);
 *  - -EPROTO for a live server's header that is invalid once published
 *    (no magic, bad geometry), where it used to say -EAGAIN forever;
 *  - -EAGAIN, for as long as it lasts, for a server stuck in its start
 *    (here a fake one: a locked lock file, a segment, a record not ready).
 * And the tool ($SHMQ_TOOL): `shmq client` retries -EAGAIN for about a
 * second, then says the server has not finished starting, never "would
 * block"; a corrupt header it reports at once as a protocol violation.
 */
#include "harness.h"
#include "proc.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "layout.h"
#include "segment.h"

#define ROUNDS	(SANITIZED ? 10 : 30)
#define CHILD_S 20

/* Run `$SHMQ_TOOL client --key K` with no input; its exit status (-1 if no
 * tool), its stderr in err, how long it took in *ms. */
static int run_client(const shmq_config *cfg, char *err, size_t cap, long *ms)
{
	const char *tool = getenv("SHMQ_TOOL");
	if (!tool || !*tool)
		return -1;
	char key[32];
	snprintf(key, sizeof(key), "%u", (unsigned)cfg->key);
	int pe[2];
	xpipe(pe);
	uint64_t t0 = now_ns();
	pid_t kid = fork_kid(CHILD_S);
	if (kid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		execl(tool, tool, "client", "--key", key, (char *)NULL);
		_exit(127);
	}
	close(pe[1]);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < cap && (n = read(pe[0], err + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(pe[0]);
	int st = reap(kid, 10000);
	*ms = (long)((now_ns() - t0) / 1000000);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The tool failed with one line on stderr that contains want. */
static void check_tool_error(int status, const char *err, const char *want)
{
	if (status != 1 || strstr(err, "would block") || !strstr(err, want) ||
	    strchr(err, '\n') != err + strlen(err) - 1)
		fprintf(stderr, "shmq client: status %d, stderr: %s", status, err);
	CHECK_EQ(status, 1);
	CHECK(!strstr(err, "would block"));
	CHECK(strstr(err, want));
	CHECK(strchr(err, '\n') == err + strlen(err) - 1);
}

/* ---- the start race --------------------------------------------------------- */

static void race_round(int posix, int round, int *eagain)
{
	shmq_config cfg = test_config(0, posix);
	char path[128];
	ep_path(&cfg, path, sizeof(path));
	int hold[2];
	xpipe(hold);
	pid_t kid = fork_kid(CHILD_S);
	if (kid == 0) {
		close(hold[1]);
		shmq_server *s;
		if (shmq_server_create(&s, &cfg) < 0)
			_exit(2);
		wait_eof(hold[0]);
		shmq_server_close(s);
		_exit(0);
	}
	close(hold[0]);
	uint64_t end = now_ns() + 5000000000ull;
	while (access(path, F_OK) != 0) {
		CHECK(now_ns() < end);
		sched_yield(); /* polling for the file, not synchronising data */
	}
	/* From the moment the file exists: only -EAGAIN, then success. */
	for (;;) {
		shmq_client *c;
		int rc = shmq_client_connect(&c, &cfg);
		if (rc == 0) {
			CHECK_EQ(shmq_client_close(c), 0);
			break;
		}
		if (rc != -EAGAIN)
			fprintf(stderr, "round %d: connecting while the server starts: %s\n", round,
				shmq_strerror(rc));
		CHECK_EQ(rc, -EAGAIN);
		(*eagain)++;
		CHECK(now_ns() < end);
	}
	close(hold[1]);
	reap_ok(kid, 10000);
	check_nothing_left(&cfg);
}

static void test_race(int posix)
{
	int eagain = 0;
	for (int i = 0; i < ROUNDS; i++)
		race_round(posix, i, &eagain);
	printf("start(%s): %d clients polling from the moment the endpoint's file appears: "
	       "only -EAGAIN (%d times), then connected\n",
	       posix ? "posix" : "sysv", ROUNDS, eagain);
}

/* ---- a live server's corrupt header ----------------------------------------- */

/* The live server's header, mapped writable as any attacher could. */
static struct seg_header *map_header(const shmq_config *cfg, size_t *len, int *shmid)
{
	if (!cfg->name) {
		*shmid = shmget(cfg->key, 0, 0);
		CHECK(*shmid >= 0);
		void *p = shmat(*shmid, NULL, 0);
		CHECK(p != (void *)-1);
		return p;
	}
	char path[128];
	ep_path(cfg, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	*len = SHMQ_PAGE;
	void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	CHECK(p != MAP_FAILED);
	return p;
}

static void unmap_header(const shmq_config *cfg, struct seg_header *h, size_t len)
{
	if (!cfg->name)
		shmdt(h);
	else
		munmap(h, len);
}

static void test_corrupt(int posix)
{
	shmq_config cfg = test_config(1, posix);
	CHECK_EQ(shmq_server_create(&own_srv, &cfg), 0);
	size_t len = 0;
	int shmid = -1;
	struct seg_header *h = map_header(&cfg, &len, &shmid);
	shmq_client *c;
	uint32_t slots = h->regions[0].count;
	h->regions[0].count = 0; /* impossible geometry, magic intact */
	CHECK_EQ(shmq_client_connect(&c, &cfg), -EPROTO);
	h->regions[0].count = slots;
	uint64_t magic = atomic_load(&h->magic);
	atomic_store(&h->magic, 0); /* as if never written */
	CHECK_EQ(shmq_client_connect(&c, &cfg), -EPROTO);
	atomic_store(&h->magic, magic ^ 1); /* garbage */
	CHECK_EQ(shmq_client_connect(&c, &cfg), -EPROTO);
	char err[512];
	long ms = 0;
	int st = posix ? -1 : run_client(&cfg, err, sizeof(err), &ms);
	if (st != -1) {
		check_tool_error(st, err, "protocol violation");
		CHECK(ms < 900); /* at once: nothing to wait for */
	}
	atomic_store(&h->magic, magic);
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0); /* repaired: it works again */
	CHECK_EQ(shmq_client_close(c), 0);
	unmap_header(&cfg, h, len);
	CHECK_EQ(shmq_server_close(own_srv), 0);
	own_srv = NULL;
	check_nothing_left(&cfg);
	printf("start(%s): a live server's header with bad geometry, no magic or a wrong magic: "
	       "-EPROTO (not -EAGAIN)\n",
	       posix ? "posix" : "sysv");
}

/* ---- a server stuck in its start (System V) ----------------------------------- */

struct fake {
	int fd;
	int shmid;
	char path[128];
};

/* What a server has made when it stops between creating its segment and
 * writing its header: a locked lock file whose record names the segment,
 * not yet marked ready. */
static struct fake fake_starting(const shmq_config *cfg)
{
	struct fake f;
	ep_path(cfg, f.path, sizeof(f.path));
	f.fd = open(f.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(f.fd >= 0);
	CHECK_EQ(lock_try(f.fd, 0), 0);
	f.shmid = shmget(cfg->key, 2 * SHMQ_PAGE, IPC_CREAT | IPC_EXCL | 0600);
	CHECK(f.shmid >= 0);
	char rec[48];
	int n = snprintf(rec, sizeof(rec), "%10ld %11d\n", (long)getpid(), f.shmid);
	CHECK(pwrite(f.fd, rec, (size_t)n, 0) == n);
	return f;
}

static void fake_remove(struct fake *f)
{
	CHECK(shmctl(f->shmid, IPC_RMID, NULL) == 0);
	CHECK(unlink(f->path) == 0);
	close(f->fd);
}

static void test_stuck(void)
{
	shmq_config cfg = test_config(2, 0);
	struct fake f = fake_starting(&cfg);
	shmq_client *c;
	for (int i = 0; i < 3; i++)
		CHECK_EQ(shmq_client_connect(&c, &cfg), -EAGAIN);
	char err[512];
	long ms = 0;
	int st = run_client(&cfg, err, sizeof(err), &ms);
	if (st != -1) {
		check_tool_error(st, err, "has not finished");
		CHECK(ms >= 900 && ms < 5000); /* it waited about a second, no more */
	}
	fake_remove(&f);
	check_nothing_left(&cfg);
	printf("start(sysv): a live server stuck before its header: -EAGAIN; shmq client gives "
	       "up after %ld ms, saying so (not \"would block\")\n",
	       ms);
}

int main(void)
{
	setup(90);
	ep_track_test_configs();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int posix = 0; posix < 2; posix++) {
		test_race(posix);
		test_corrupt(posix);
	}
	test_stuck();
	passed = 1;
	return 0;
}
