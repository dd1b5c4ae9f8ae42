/* SPDX-License-Identifier: MIT */
/*
 * Exhaustion and bad input. Each one must give a named error and leave no
 * partial segment, lock file or /dev/shm entry behind:
 *  (a) /dev/shm too small (a 1 MiB tmpfs in a private mount namespace, as
 *      root): -ENOSPC at creation, no SIGBUS, nothing left in /dev/shm; a
 *      geometry that fits works;
 *  (b) System V limits (a private IPC namespace, as root): a segment larger
 *      than kernel.shmmax gives -EFBIG naming shmmax; kernel.shmmni reached
 *      gives -ENOSPC naming shmmni;
 *  (c) every slot taken: the next client gets -EUSERS at once;
 *  (d) a ring full with a SIGSTOPped server: the sender blocks, gets
 *      -ETIMEDOUT at its timeout, and after SIGCONT every message sent
 *      before arrives, in order;
 *  (e) invalid names, keys and options: -EINVAL, nothing created;
 *  (f) the converse of (d): a ring its consumer has drained never makes the
 *      sender wait, whatever the message size.
 * Parts (a) and (b) need root (or CAP_SYS_ADMIN): without it they are
 * skipped, and the test exits 77 after running the others.
 */
#include "harness.h"
#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* ---- cleanup on any exit: proc.h's teardown, then these keys ------------ */

static int sysv_keys[4]; /* keys used in the IPC namespace of part (b) */

/* teardown_extra, after proc.h has killed the children (SIGKILL ends a
 * stopped one too) and removed every test_config() endpoint: the keys of
 * parts (a) and (b), test_key(4) among them, which no test_config() names. */
static void remove_sysv_keys(void)
{
	for (int n = 0; n < 4; n++) {
		if (sysv_keys[n]) {
			shmq_config cfg;
			shmq_config_init(&cfg);
			cfg.key = sysv_keys[n];
			shmq_remove(&cfg, SHMQ_REMOVE_FORCE);
		}
	}
}

static void put(int fd, const void *p, size_t n)
{
	CHECK(write(fd, p, n) == (ssize_t)n);
}

static uint64_t ms_since(uint64_t t)
{
	return (now_ns() - t) / 1000000ull;
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void sysv_lock_path(char *buf, size_t n, int key)
{
	snprintf(buf, n, "/dev/shm/shmq.sysv.0x%08x.lock", (unsigned)key);
}

/* Nothing of endpoint cfg exists: no segment, no lock file, no name. */
static void check_nothing(const shmq_config *cfg)
{
	char path[300];
	if (cfg->name) {
		const char *n = cfg->name[0] == '/' ? cfg->name + 1 : cfg->name;
		if (!*n || !strcmp(n, ".") || !strcmp(n, ".."))
			return; /* names no file: /dev/shm itself or its parent */
		snprintf(path, sizeof(path), "/dev/shm/%s", n);
	} else {
		if (cfg->key != IPC_PRIVATE)
			CHECK(shmget(cfg->key, 0, 0) < 0 && errno == ENOENT);
		sysv_lock_path(path, sizeof(path), cfg->key);
	}
	if (exists(path))
		fprintf(stderr, "left behind: %s\n", path);
	CHECK(!exists(path));
}

static void check_names(int err, const char *what)
{
	const char *s = shmq_strerror(err);
	if (!strstr(s, what))
		fprintf(stderr, "shmq_strerror(%d) = \"%s\" does not name %s\n", err, s, what);
	CHECK(strstr(s, what) != NULL);
}

/* Send n messages of assorted sizes from c to s and check each arrives.
 * Up to half the largest message: see part (f) for why not larger. */
static void exchange(shmq_server *s, shmq_client *c, int n)
{
	size_t max = shmq_client_max_msg(c);
	unsigned char *out = malloc(max), *in = malloc(max);
	CHECK(out && in);
	for (int i = 0; i < n; i++) {
		size_t len = ((size_t)i * 7919u) % (max / 2 + 1);
		fill_random(out, len, (uint64_t)i);
		CHECK_EQ(shmq_client_send(c, out, len, 5000), 0);
		CHECK_EQ(shmq_server_recv(s, in, max, NULL, 5000), (ssize_t)len);
		CHECK(memcmp(in, out, len) == 0);
	}
	free(out);
	free(in);
}

/* ---- (a) /dev/shm too small ---------------------------------------------- */

/* The names in dir, other than . and ..; returns how many. */
static int list_dir(const char *dir, char *first, size_t n)
{
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (count++ == 0)
			snprintf(first, n, "%s", e->d_name);
	}
	closedir(d);
	return count;
}

static void check_shm_empty(const char *when)
{
	char first[300] = "";
	int n = list_dir("/dev/shm", first, sizeof(first));
	if (n != 0)
		fprintf(stderr, "%s: /dev/shm holds %d entries, e.g. %s\n", when, n, first);
	CHECK_EQ(n, 0);
}

static void check_shm_only_filler(void)
{
	char first[300] = "";
	int n = list_dir("/dev/shm", first, sizeof(first));
	if (n != 1 || strcmp(first, "filler") != 0)
		fprintf(stderr, "/dev/shm holds %d entries, e.g. %s\n", n, first);
	CHECK(n == 1 && strcmp(first, "filler") == 0);
}

static void small_shm_child(const char *name, int key)
{
	if (unshare(CLONE_NEWNS) < 0) {
		fprintf(stderr, "SKIP (a): unshare(CLONE_NEWNS): %s\n", strerror(errno));
		_exit(SKIP_CODE);
	}
	/* Our mounts must not leak into the parent's namespace. */
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=1M,mode=1777") < 0) {
		fprintf(stderr, "SKIP (a): mount tmpfs: %s\n", strerror(errno));
		_exit(SKIP_CODE);
	}
	check_shm_empty("fresh tmpfs");

	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.name = name;
	shmq_server *s;

	/* 16 slots of two 64 KiB rings: about 2 MiB. */
	cfg.slots = 16;
	cfg.ring_size = 65536;
	int rc = shmq_server_create(&s, &cfg);
	CHECK_EQ(rc, -ENOSPC);
	check_names(rc, "/dev/shm");
	check_shm_empty("after -ENOSPC");

	/* It would fit, were the tmpfs not nearly full already. */
	int fd = open("/dev/shm/filler", O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK(posix_fallocate(fd, 0, 900 * 1024) == 0);
	cfg.slots = 2;
	CHECK_EQ(shmq_server_create(&s, &cfg), -ENOSPC);
	check_shm_only_filler();

	/* Completely full: even System V, whose lock file lives here. */
	struct statvfs vfs;
	CHECK(fstatvfs(fd, &vfs) == 0);
	off_t used = 900 * 1024 + (off_t)(vfs.f_bavail * vfs.f_frsize);
	CHECK(posix_fallocate(fd, 0, used) == 0);
	CHECK(fstatvfs(fd, &vfs) == 0 && vfs.f_bavail == 0);
	cfg.name = NULL;
	cfg.key = key;
	cfg.slots = 1;
	cfg.ring_size = 4096;
	CHECK_EQ(shmq_server_create(&s, &cfg), -ENOSPC);
	check_nothing(&cfg);
	check_shm_only_filler();
	close(fd);
	CHECK(unlink("/dev/shm/filler") == 0);
	check_shm_empty("after the filler");

	/* A geometry that fits: it works. */
	cfg.name = name;
	cfg.slots = 2;
	cfg.ring_size = 65536;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	exchange(s, c, 500);
	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_server_close(s), 0);
	check_shm_empty("after close");
	_exit(0);
}

static int part_a(void)
{
	if (geteuid() != 0) {
		printf("exhaust (a): SKIP, needs root for a private tmpfs\n");
		return SKIP_CODE;
	}
	const char *name = test_name(2);
	int key = test_key(2);
	sysv_keys[0] = key;
	pid_t pid = fork_kid(60);
	if (pid == 0)
		small_shm_child(name, key);
	int rc = reap_exit(pid, 30000, "small /dev/shm");
	CHECK(rc == 0 || rc == SKIP_CODE);
	if (rc == 0)
		printf("exhaust (a): 1 MiB /dev/shm: a 2 MiB endpoint, a 268 KiB one beside "
		       "900 KiB of filler, and a System V one when full get -ENOSPC at creation, "
		       "no SIGBUS, nothing left; one that fits carries 500 messages\n");
	else
		printf("exhaust (a): SKIP, no private mount namespace\n");
	return rc;
}

/* ---- (b) System V limits --------------------------------------------------- */

static void write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write(fd, value, strlen(value)) == (ssize_t)strlen(value));
	close(fd);
}

static void sysv_limits_child(void)
{
	if (unshare(CLONE_NEWIPC) < 0) {
		fprintf(stderr, "SKIP (b): unshare(CLONE_NEWIPC): %s\n", strerror(errno));
		_exit(SKIP_CODE);
	}
	/* Our own IPC namespace: its shm sysctls are ours to lower. The lock
	 * files still go to the shared /dev/shm, hence pid-derived keys. */
	write_sysctl("/proc/sys/kernel/shmmax", "65536");
	shmq_config cfg;
	shmq_config_init(&cfg);
	shmq_server *s, *s2;

	cfg.key = sysv_keys[1];
	cfg.slots = 4;
	cfg.ring_size = 65536; /* about 540 KiB */
	int rc = shmq_server_create(&s, &cfg);
	CHECK_EQ(rc, -EFBIG);
	check_names(rc, "shmmax");
	check_nothing(&cfg);

	/* Within shmmax, one segment may exist, not two. */
	cfg.slots = 1;
	cfg.ring_size = 4096;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	write_sysctl("/proc/sys/kernel/shmmni", "1");
	shmq_config cfg2 = cfg;
	cfg2.key = sysv_keys[2];
	rc = shmq_server_create(&s2, &cfg2);
	CHECK_EQ(rc, -ENOSPC);
	check_names(rc, "shmmni");
	check_nothing(&cfg2);

	/* The first one still works. */
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	exchange(s, c, 200);
	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing(&cfg);
	_exit(0);
}

static int part_b(void)
{
	if (geteuid() != 0) {
		printf("exhaust (b): SKIP, needs root for a private IPC namespace\n");
		return SKIP_CODE;
	}
	sysv_keys[1] = test_key(3);
	sysv_keys[2] = test_key(4);
	pid_t pid = fork_kid(60);
	if (pid == 0)
		sysv_limits_child();
	int rc = reap_exit(pid, 30000, "System V limits");
	CHECK(rc == 0 || rc == SKIP_CODE);
	if (rc == 0)
		printf("exhaust (b): shmmax=65536 gives -EFBIG (\"%s\"); shmmni=1 gives "
		       "-ENOSPC (\"%s\"); no segment or lock file left\n",
		       shmq_strerror(-EFBIG), shmq_strerror(-ENOSPC));
	else
		printf("exhaust (b): SKIP, no private IPC namespace\n");
	return rc;
}

/* ---- (c) every slot taken ------------------------------------------------- */

#define NSLOTS 4

/* A client that connects, says so, and leaves when told (or orphaned). */
static void holder(const shmq_config *cfg, int ready_fd, int go_fd)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	put(ready_fd, &rc, sizeof(rc));
	if (rc < 0)
		_exit(2);
	char x;
	(void)get(go_fd, &x, 1); /* returns on EOF too */
	shmq_client_close(c);
	_exit(0);
}

static void part_c(int posix)
{
	shmq_config cfg = test_config(0, posix);
	cfg.slots = NSLOTS;
	cfg.ring_size = 4096;
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);

	int ready[2], go[NSLOTS][2];
	xpipe(ready);
	pid_t pid[NSLOTS];
	for (int i = 0; i < NSLOTS; i++) {
		xpipe(go[i]);
		if ((pid[i] = fork_kid(60)) == 0) {
			for (int j = 0; j <= i; j++)
				close(go[j][1]); /* so that the parent's close is our EOF */
			holder(&cfg, ready[1], go[i][0]);
		}
		close(go[i][0]);
		int rc;
		CHECK_EQ(get(ready[0], &rc, sizeof(rc)), 1);
		CHECK_EQ(rc, 0);
	}

	/* The fifth: at once, a named error, and nothing claimed. */
	uint64_t worst = 0;
	for (int i = 0; i < 10; i++) {
		shmq_client *c = NULL;
		uint64_t t0 = now_ns();
		int rc = shmq_client_connect(&c, &cfg);
		uint64_t us = (now_ns() - t0) / 1000;
		CHECK_EQ(rc, -EUSERS);
		CHECK(c == NULL);
		if (us > worst)
			worst = us;
	}
	CHECK(worst < 100000);
	check_names(-EUSERS, "slots");
	shmq_endpoint_info info;
	shmq_slot_info si[NSLOTS];
	CHECK_EQ(shmq_inspect(&cfg, &info, si, NSLOTS), NSLOTS);
	CHECK_EQ(info.clients, NSLOTS);
	for (int i = 0; i < NSLOTS; i++)
		CHECK(si[i].alive == 1 && si[i].state == 1);

	/* One leaves: the newcomer gets its slot, once the server has seen. */
	close(go[1][1]);
	CHECK_EQ(reap_exit(pid[1], 5000, "holder"), 0);
	shmq_client *c = NULL;
	uint64_t t0 = now_ns();
	int rc;
	while ((rc = shmq_client_connect(&c, &cfg)) == -EUSERS) {
		CHECK(ms_since(t0) < 5000);
		CHECK_EQ(shmq_server_recv(s, NULL, 0, NULL, 5), -ETIMEDOUT);
	}
	CHECK_EQ(rc, 0);
	uint64_t took = ms_since(t0);
	exchange(s, c, 10);
	CHECK_EQ(shmq_client_close(c), 0);

	for (int i = 0; i < NSLOTS; i++) {
		if (i == 1)
			continue;
		close(go[i][1]);
		CHECK_EQ(reap_exit(pid[i], 5000, "holder"), 0);
	}
	close(ready[0]);
	close(ready[1]);
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing(&cfg);
	printf("exhaust (c, %s): %d slots taken: 10 more connects got -EUSERS, slowest in "
	       "%llu us; a leaver's slot was reused after %llu ms\n",
	       posix ? "posix" : "sysv", NSLOTS, (unsigned long long)worst,
	       (unsigned long long)took);
}

/* ---- (d) a ring full with a stopped server --------------------------------- */

#define TIMEOUT_MS 300

struct seqmsg {
	uint32_t seq;
	uint32_t end; /* 1: the last one */
	uint64_t sum;
	unsigned char pad[200];
};

static void make_seq(struct seqmsg *m, uint32_t seq, uint32_t end)
{
	memset(m, 0, sizeof(*m));
	m->seq = seq;
	m->end = end;
	fill_random(m->pad, sizeof(m->pad), seq);
	m->sum = fnv1a(m->pad, sizeof(m->pad));
}

/* Receives until the end marker, checking order and content; reports how
 * many came before it. */
static void stopped_server(const shmq_config *cfg, int ready_fd, int res_fd)
{
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, cfg), 0);
	put(ready_fd, "r", 1);
	struct seqmsg m, want;
	uint32_t next = 0;
	for (;;) {
		ssize_t n = shmq_server_recv(s, &m, sizeof(m), NULL, 20000);
		CHECK_EQ(n, (ssize_t)sizeof(m));
		if (m.end)
			break;
		make_seq(&want, next, 0);
		if (memcmp(&m, &want, sizeof(m)) != 0)
			fprintf(stderr, "server: message %u: got seq %u\n", next, m.seq);
		CHECK(memcmp(&m, &want, sizeof(m)) == 0);
		next++;
	}
	CHECK_EQ(m.seq, next); /* the end marker follows the last one */
	put(res_fd, &next, sizeof(next));
	CHECK_EQ(shmq_server_close(s), 0);
	_exit(0);
}

static void part_d(int posix)
{
	shmq_config cfg = test_config(1, posix);
	cfg.slots = 1;
	cfg.ring_size = 4096;
	int ready[2], res[2];
	xpipe(ready);
	xpipe(res);
	pid_t srv = fork_kid(60);
	if (srv == 0)
		stopped_server(&cfg, ready[1], res[1]);
	char x;
	CHECK_EQ(get(ready[0], &x, 1), 1);
	CHECK(kill(srv, SIGSTOP) == 0);
	int st;
	CHECK(waitpid(srv, &st, WUNTRACED) == srv && WIFSTOPPED(st));

	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	struct seqmsg m;
	uint32_t sent = 0;
	for (;;) {
		make_seq(&m, sent, 0);
		int rc = shmq_client_send(c, &m, sizeof(m), 0);
		if (rc == -EAGAIN)
			break;
		CHECK_EQ(rc, 0);
		sent++;
		CHECK(sent < 4096);
	}
	CHECK(sent > 0);
	/* Full: the next send blocks for its whole timeout, then gives up. */
	uint64_t t0 = now_ns();
	int rc = shmq_client_send(c, &m, sizeof(m), TIMEOUT_MS);
	uint64_t waited = ms_since(t0);
	CHECK_EQ(rc, -ETIMEDOUT);
	CHECK(waited >= TIMEOUT_MS && waited < TIMEOUT_MS + 1000);
	/* A request too: its send half times out the same way. */
	t0 = now_ns();
	CHECK_EQ(shmq_client_request(c, &m, sizeof(m), &m, sizeof(m), TIMEOUT_MS), -ETIMEDOUT);
	CHECK(ms_since(t0) >= TIMEOUT_MS);
	CHECK_EQ(shmq_client_check(c), 0); /* stopped is not dead */

	CHECK(kill(srv, SIGCONT) == 0);
	make_seq(&m, sent, 1);
	CHECK_EQ(shmq_client_send(c, &m, sizeof(m), 10000), 0);
	uint32_t got = 0;
	CHECK_EQ(get(res[0], &got, sizeof(got)), 1);
	CHECK_EQ(got, sent);
	CHECK_EQ(reap_exit(srv, 10000, "stopped server"), 0);
	CHECK_EQ(shmq_client_close(c), 0);
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(res[i]);
	}
	check_nothing(&cfg);
	printf("exhaust (d, %s): %u messages filled the ring of a stopped server; the next "
	       "send blocked %llu ms and got -ETIMEDOUT; after SIGCONT all %u arrived in "
	       "order\n",
	       posix ? "posix" : "sysv", sent, (unsigned long long)waited, got);
}

/* ---- (e) invalid names, keys and options ----------------------------------- */

static void expect_einval(const shmq_config *cfg, const char *what)
{
	shmq_server *s = NULL;
	int rc = shmq_server_create(&s, cfg);
	if (rc != -EINVAL)
		fprintf(stderr, "%s: server_create gave %d (%s)\n", what, rc, shmq_strerror(rc));
	CHECK_EQ(rc, -EINVAL);
	CHECK(s == NULL);
	check_nothing(cfg);
}

static void expect_client_einval(const shmq_config *cfg, const char *what)
{
	shmq_client *c = NULL;
	int rc = shmq_client_connect(&c, cfg);
	if (rc != -EINVAL)
		fprintf(stderr, "%s: client_connect gave %d (%s)\n", what, rc, shmq_strerror(rc));
	CHECK_EQ(rc, -EINVAL);
	CHECK(c == NULL);
}

static void part_e(void)
{
	char longname[SHMQ_NAME_MAX + 3];
	int tried = 0;

	/* Names. */
	char prefix[16];
	int plen = snprintf(prefix, sizeof(prefix), "shmq-%05d-", (int)getpid() % 100000);
	memset(longname, 'x', SHMQ_NAME_MAX + 1);
	memcpy(longname, prefix, (size_t)plen);
	longname[SHMQ_NAME_MAX + 1] = '\0';
	const char *bad_names[] = {longname, "a/b", "/a/b",  "",    "/",  ".",
				   "..",     "a b", "tab\t", "//x", "x\n"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		shmq_config cfg;
		shmq_config_init(&cfg);
		cfg.name = bad_names[i];
		expect_einval(&cfg, bad_names[i]);
		expect_client_einval(&cfg, bad_names[i]);
		tried++;
	}
	/* Exactly the longest name works, with or without its '/'. */
	longname[SHMQ_NAME_MAX] = '\0';
	for (int slash = 0; slash < 2; slash++) {
		char withslash[SHMQ_NAME_MAX + 2];
		withslash[0] = '/';
		memcpy(withslash + 1, longname, SHMQ_NAME_MAX + 1);
		shmq_config cfg;
		shmq_config_init(&cfg);
		cfg.name = slash ? withslash : longname;
		shmq_server *s;
		CHECK_EQ(shmq_server_create(&s, &cfg), 0);
		CHECK_EQ(shmq_server_close(s), 0);
		check_nothing(&cfg);
	}

	/* Key 0 is IPC_PRIVATE: no endpoint can be found by it. */
	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.key = IPC_PRIVATE;
	expect_einval(&cfg, "key 0");
	expect_client_einval(&cfg, "key 0");
	tried++;

	/* Options out of range, on both backends. */
	struct {
		const char *what;
		unsigned slots;
		size_t ring;
		unsigned mode;
	} bad[] = {
	    {"0 slots", 0, 4096, 0600},
	    {"too many slots", SHMQ_MAX_SLOTS + 1, 4096, 0600},
	    {"ring of 0", 1, 0, 0600},
	    {"ring too small", 1, SHMQ_MIN_RING_SIZE / 2, 0600},
	    {"ring not a power of two", 1, 3000, 0600},
	    {"ring too large", 1, (size_t)SHMQ_MAX_RING_SIZE * 2, 0600},
	    {"ring of SIZE_MAX", 1, SIZE_MAX, 0600},
	    {"mode 0", 1, 4096, 0},
	    {"mode 0400", 1, 4096, 0400},
	    {"mode 01600", 1, 4096, 01600},
	    {"mode 04600", 1, 4096, 04600},
	};
	for (int posix = 0; posix < 2; posix++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			cfg = test_config(3, posix);
			cfg.slots = bad[i].slots;
			cfg.ring_size = bad[i].ring;
			cfg.mode = bad[i].mode;
			expect_einval(&cfg, bad[i].what);
			tried++;
		}
		/* A client asking for an impossible mode. */
		cfg = test_config(3, posix);
		cfg.mode = 01600;
		expect_client_einval(&cfg, "client mode 01600");
		tried++;
	}
	/* And NULL arguments. */
	shmq_server *s;
	cfg = test_config(3, 0);
	CHECK_EQ(shmq_server_create(NULL, &cfg), -EINVAL);
	CHECK_EQ(shmq_server_create(&s, NULL), -EINVAL);
	check_nothing(&cfg);
	check_names(-EINVAL, "invalid");
	printf("exhaust (e): %d invalid names, keys and options: -EINVAL (\"%s\"), nothing "
	       "created; the longest valid name works\n",
	       tried + 2, shmq_strerror(-EINVAL));
}

/* ---- (f) a drained ring never blocks its sender ---------------------------- */

/* One thread drives a client and the server: each message is received before
 * the next is sent, so the ring is empty before every send, and a send of
 * any size up to shmq_client_max_msg must succeed without waiting. (The
 * consumer hands space back in batches; it must not keep any back once it
 * has taken everything, or this sender waits for a flush that only its own
 * thread could make.) */
static void part_f(int posix)
{
	shmq_config cfg = test_config(1, posix);
	cfg.slots = 1;
	cfg.ring_size = 4096;
	shmq_server *s;
	shmq_client *c;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	size_t max = shmq_client_max_msg(c);
	unsigned char *buf = malloc(max);
	CHECK(buf);
	/* A short sequence that needs a pad and the whole ring, then sizes
	 * all over the range. */
	size_t seq[] = {1008, 504, 1008, max};
	int bad = -1, rc = 0;
	size_t badlen = 0;
	for (int i = 0; i < 2000 && bad < 0; i++) {
		size_t len = i < 4 ? seq[i] : ((size_t)i * 7919u) % (max + 1);
		fill_random(buf, len, (uint64_t)i);
		rc = shmq_client_send(c, buf, len, 0);
		if (rc != 0) {
			bad = i;
			badlen = len;
			break;
		}
		CHECK_EQ(shmq_server_recv(s, buf, max, NULL, 1000), (ssize_t)len);
	}
	CHECK_EQ(shmq_client_close(c), 0);
	CHECK_EQ(shmq_server_close(s), 0);
	free(buf);
	check_nothing(&cfg);
	if (bad >= 0)
		fprintf(stderr,
			"exhaust (f, %s): message %d (%zu bytes) into a ring whose "
			"consumer had taken everything: %s\n",
			posix ? "posix" : "sysv", bad, badlen, shmq_strerror(rc));
	CHECK(bad < 0);
	printf("exhaust (f, %s): 2000 messages of 0..%zu bytes, each sent into a drained "
	       "ring: none waited\n",
	       posix ? "posix" : "sysv", max);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup(110);
	ep_track_test_configs();
	teardown_extra = remove_sysv_keys;
	int skipped = 0;
	skipped += part_a() == SKIP_CODE;
	skipped += part_b() == SKIP_CODE;
	for (int posix = 0; posix < 2; posix++) {
		part_c(posix);
		part_d(posix);
	}
	part_e();
	for (int posix = 0; posix < 2; posix++)
		part_f(posix);
	if (skipped) {
		printf("exhaust: %d part(s) skipped, the others passed\n", skipped);
		return SKIP_CODE;
	}
	printf("exhaust: all parts passed\n");
	return 0;
}
