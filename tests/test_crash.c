/* SPDX-License-Identifier: MIT */
/*
 * Crashes with real processes and real signals:
 *  (a) a client SIGKILLed while streaming: the others are served to the end,
 *      what it sent arrives as an intact prefix, its slot is freed;
 *  (b) the server SIGKILLed while a client is blocked in recv, in send on a
 *      full ring, and in request: the call fails with -EPIPE within 1 s;
 *  (c) a client SIGKILLed while it holds a zero-copy reservation;
 *  (d) the server SIGSTOPped: a timed send gets -ETIMEDOUT, not -EPIPE, and
 *      after SIGCONT everything is delivered.
 */
#include "harness.h"
#include "proc.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/shm.h>

#define CHILD_S 60 /* a child's own alarm */

static void put(int fd, const void *p, size_t n)
{
	CHECK(write(fd, p, n) == (ssize_t)n);
}

static double ms_since(uint64_t t)
{
	return (double)(now_ns() - t) / 1e6;
}

/* ---- messages: {who, seq, len, magic, checksum} + pseudo-random payload -- */

struct mhdr {
	uint32_t who;
	uint32_t seq;
	uint32_t len;
	uint32_t magic;
	uint64_t sum;
};

#define MSG_MAGIC 0x21677363u
#define MSG_MAX	  (sizeof(struct mhdr) + 1024)

static uint64_t msg_seed(uint32_t who, uint32_t seq)
{
	return ((uint64_t)who << 32) | seq;
}

static size_t make_msg(unsigned char *buf, uint32_t who, uint32_t seq)
{
	struct mhdr h = {who, seq, (who * 7919u + seq * 104729u) % 1000u, MSG_MAGIC, 0};
	fill_random(buf + sizeof(h), h.len, msg_seed(who, seq));
	h.sum = fnv1a(buf + sizeof(h), h.len);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.len;
}

/* 0 if buf holds an intact message; its sender and number in *h. */
static int check_msg(const unsigned char *buf, size_t n, struct mhdr *h)
{
	static unsigned char want[MSG_MAX];
	if (n < sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	if (h->magic != MSG_MAGIC || h->len != n - sizeof(*h) || h->len > 1024 ||
	    fnv1a(buf + sizeof(*h), h->len) != h->sum)
		return -1;
	fill_random(want, h->len, msg_seed(h->who, h->seq));
	return memcmp(want, buf + sizeof(*h), h->len) ? -1 : 0;
}

static int client_count(shmq_server *s, pid_t without)
{
	shmq_client_info info[8];
	int n = shmq_server_clients(s, info, 8);
	CHECK(n >= 0 && n <= 8);
	for (int i = 0; i < n; i++)
		if (info[i].pid == without)
			return -1; /* still listed */
	return n;
}

/* ---- (a) a client killed while streaming --------------------------------- */

#define NCLI	3
#define NMSG	4000 /* each surviving client */
#define KILL_AT 500  /* the victim's messages received before the kill */
#define VICTIM	1

/* A streaming client: waits for the start byte, sends its sequence (the
 * victim never stops), then waits for the server's "bye". */
static void stream_client(const shmq_config *cfg, uint32_t who, int start_fd)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (rc < 0) {
		fprintf(stderr, "client %u: connect: %s\n", who, shmq_strerror(rc));
		_exit(2);
	}
	char go;
	if (get(start_fd, &go, 1) != 1)
		_exit(3);
	unsigned char buf[MSG_MAX];
	for (uint32_t seq = 0; who == VICTIM || seq < NMSG; seq++) {
		size_t n = make_msg(buf, who, seq);
		if ((rc = shmq_client_send(c, buf, n, 20000)) < 0) {
			fprintf(stderr, "client %u: send %u: %s\n", who, seq, shmq_strerror(rc));
			_exit(4);
		}
	}
	ssize_t r = shmq_client_recv(c, buf, sizeof(buf), 30000);
	if (r != 3 || memcmp(buf, "bye", 3) != 0) {
		fprintf(stderr, "client %u: bye: %zd\n", who, r);
		_exit(5);
	}
	shmq_client_close(c);
	_exit(0);
}

/* A client that connects into the freed slot and says one thing. */
static void late_client(const shmq_config *cfg, int res_fd)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (write(res_fd, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(2);
	unsigned char buf[MSG_MAX];
	size_t n = make_msg(buf, NCLI, 0);
	rc = shmq_client_send(c, buf, n, 5000);
	shmq_client_close(c);
	_exit(rc == 0 ? 0 : 3);
}

struct stream_state {
	uint32_t next[NCLI + 1];
	shmq_client_id id[NCLI + 1];
	int seen[NCLI + 1];
};

/* Receive one message with a timeout; verify it is the next of its sender.
 * Returns the sender, or -1 on timeout. */
static int recv_one(shmq_server *s, struct stream_state *st, int timeout_ms)
{
	static unsigned char buf[MSG_MAX];
	shmq_msg m;
	ssize_t n = shmq_server_recv(s, buf, sizeof(buf), &m, timeout_ms);
	if (n == -ETIMEDOUT)
		return -1;
	CHECK(n >= 0);
	struct mhdr h;
	CHECK(check_msg(buf, (size_t)n, &h) == 0);
	CHECK(h.who <= NCLI);
	if (h.seq != st->next[h.who])
		fprintf(stderr, "client %u: got seq %u, want %u\n", h.who, h.seq, st->next[h.who]);
	CHECK_EQ(h.seq, st->next[h.who]);
	if (!st->seen[h.who]) {
		st->seen[h.who] = 1;
		st->id[h.who] = m.from;
	}
	CHECK(m.from.slot == st->id[h.who].slot && m.from.gen == st->id[h.who].gen);
	st->next[h.who]++;
	return (int)h.who;
}

static void test_client_killed_streaming(int posix)
{
	shmq_config cfg = test_config(0, posix);
	cfg.slots = NCLI;
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);

	int start[2];
	xpipe(start);
	pid_t pid[NCLI];
	for (uint32_t i = 0; i < NCLI; i++) {
		if ((pid[i] = fork_kid(CHILD_S)) == 0) {
			close(start[1]);
			stream_client(&cfg, i, start[0]);
		}
	}
	close(start[0]);
	/* Start together once all three are connected. */
	uint64_t end = now_ns() + 10000000000ull;
	while (client_count(s, 0) < NCLI) {
		CHECK(now_ns() < end);
		CHECK_EQ(shmq_server_recv(s, NULL, 0, NULL, 10), -ETIMEDOUT);
	}
	put(start[1], "ggg", NCLI);
	close(start[1]);

	struct stream_state st = {0};
	uint64_t t_kill = 0, t_drop = 0;
	uint32_t at_kill[NCLI] = {0};
	while (!t_drop || st.next[0] < NMSG || st.next[2] < NMSG) {
		int who = recv_one(s, &st, 100);
		if (who == VICTIM && !t_kill && st.next[VICTIM] == KILL_AT) {
			CHECK(kill(pid[VICTIM], SIGKILL) == 0);
			t_kill = now_ns();
			memcpy(at_kill, st.next, sizeof(at_kill));
		}
		if (t_kill && !t_drop && client_count(s, pid[VICTIM]) >= 0)
			t_drop = now_ns();
		CHECK(!t_kill || t_drop || ms_since(t_kill) < 1000);
		CHECK(now_ns() < end + 50000000000ull);
	}
	reap_killed(pid[VICTIM]);
	/* The others were still streaming when the victim died. */
	CHECK(at_kill[0] < NMSG && at_kill[2] < NMSG);
	/* Whatever the victim committed is still queued: drain it all. */
	while (recv_one(s, &st, 300) >= 0)
		CHECK(st.next[0] == NMSG && st.next[2] == NMSG);
	CHECK(st.next[VICTIM] >= KILL_AT);
	CHECK_EQ(client_count(s, pid[VICTIM]), NCLI - 1);
	printf("crash(%s): client killed after %u msgs (others at %u, %u); %u delivered in "
	       "order; dropped from the client list %.1f ms after SIGKILL\n",
	       posix ? "posix" : "sysv", at_kill[VICTIM], at_kill[0], at_kill[2], st.next[VICTIM],
	       (double)(t_drop - t_kill) / 1e6);

	/* slots = 3 and two are taken: a newcomer must get the dead one's. */
	int res[2];
	xpipe(res);
	pid_t late = fork_kid(CHILD_S);
	if (late == 0)
		late_client(&cfg, res[1]);
	close(res[1]);
	int rc = -1;
	CHECK_EQ(get(res[0], &rc, sizeof(rc)), 1);
	close(res[0]);
	CHECK_EQ(rc, 0);
	CHECK_EQ(recv_one(s, &st, 5000), NCLI);
	CHECK_EQ(st.id[NCLI].slot, st.id[VICTIM].slot);
	CHECK(st.id[NCLI].gen != st.id[VICTIM].gen);
	reap_ok(late, 5000);

	for (int i = 0; i < NCLI; i++)
		if (i != VICTIM)
			CHECK_EQ(shmq_server_send(s, st.id[i], "bye", 3, 5000), 0);
	reap_ok(pid[0], 10000);
	reap_ok(pid[2], 10000);
	CHECK_EQ(shmq_server_close(s), 0);
}

/* ---- (b) the server killed under a blocked client ------------------------ */

enum block_in { IN_RECV, IN_SEND_FULL, IN_REQUEST };
static const char *const block_name[] = {"recv", "send on a full ring", "request"};

/* State of a process from /proc/<pid>/stat ('R', 'S', ...), 0 if unknown. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

struct kill_report {
	uint64_t t_kill;
	int saw_sleep;
};

/* A helper that waits until `watch` has been asleep for 20 consecutive
 * samples (it is then in its futex wait, past the spin), SIGKILLs `target`
 * and reports when. */
static pid_t spawn_killer(pid_t watch, pid_t target, int out_fd)
{
	pid_t pid = fork_kid(CHILD_S);
	if (pid)
		return pid;
	uint64_t end = now_ns() + 5000000000ull;
	int streak = 0;
	while (streak < 20 && now_ns() < end) {
		streak = proc_state(watch) == 'S' ? streak + 1 : 0;
		usleep(1000); /* sampling another process's state */
	}
	struct kill_report r = {now_ns(), streak >= 20};
	kill(target, SIGKILL);
	_exit(write(out_fd, &r, sizeof(r)) == sizeof(r) ? 0 : 1);
}

/* A server that serves nothing back: it drains requests without replying,
 * or (hold) does not even drain. Lives until killed or the pipe closes. */
static void mute_server(const shmq_config *cfg, int ready_fd, int hold_fd, int drain)
{
	shmq_server *s;
	int rc = shmq_server_create(&s, cfg);
	if (write(ready_fd, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(2);
	if (drain) {
		char buf[256];
		for (;;) {
			ssize_t n = shmq_server_recv(s, buf, sizeof(buf), NULL, 200);
			if (n < 0 && n != -ETIMEDOUT)
				_exit(3);
			struct pollfd p = {.fd = hold_fd, .events = POLLIN};
			if (poll(&p, 1, 0) > 0)
				break;
		}
	} else {
		wait_eof(hold_fd);
	}
	shmq_server_close(s);
	_exit(0);
}

static pid_t start_mute_server(const shmq_config *cfg, int drain, int *hold_wr)
{
	int ready[2], hold[2];
	xpipe(ready);
	xpipe(hold);
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		mute_server(cfg, ready[1], hold[0], drain);
	}
	close(ready[1]);
	close(hold[0]);
	int rc = -1;
	CHECK_EQ(get(ready[0], &rc, sizeof(rc)), 1);
	close(ready[0]);
	CHECK_EQ(rc, 0);
	*hold_wr = hold[1];
	return pid;
}

static double server_killed_under(int posix, enum block_in where)
{
	shmq_config cfg = test_config(1, posix);
	cfg.ring_size = 4096;
	int hold;
	pid_t srv = start_mute_server(&cfg, where != IN_SEND_FULL, &hold);
	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);

	unsigned char buf[MSG_MAX];
	uint32_t seq = 0;
	if (where == IN_SEND_FULL) {
		int rc;
		while ((rc = shmq_client_send(c, buf, make_msg(buf, 0, seq), 0)) == 0)
			seq++;
		CHECK_EQ(rc, -EAGAIN);
		CHECK(seq > 0);
	}
	int rep[2];
	xpipe(rep);
	pid_t killer = spawn_killer(getpid(), srv, rep[1]);
	close(rep[1]);

	uint64_t t0 = now_ns();
	long long rc;
	if (where == IN_RECV)
		rc = shmq_client_recv(c, buf, sizeof(buf), 5000);
	else if (where == IN_SEND_FULL)
		rc = shmq_client_send(c, buf, make_msg(buf, 0, seq), 5000);
	else
		rc = shmq_client_request(c, "ping", 4, buf, sizeof(buf), 5000);
	uint64_t t1 = now_ns();

	struct kill_report r;
	CHECK_EQ(get(rep[0], &r, sizeof(r)), 1);
	close(rep[0]);
	reap_ok(killer, 5000);
	reap_killed(srv);
	close(hold);
	CHECK(r.saw_sleep); /* the client was asleep in the call when the kill came */
	CHECK(r.t_kill > t0);
	CHECK_EQ(rc, -EPIPE);
	double ms = (double)(t1 - r.t_kill) / 1e6;
	printf("crash(%s): server SIGKILLed under a client blocked in %s: -EPIPE after %.1f ms\n",
	       posix ? "posix" : "sysv", block_name[where], ms);
	CHECK(ms < 1000);
	CHECK_EQ(shmq_client_check(c), -EPIPE);
	CHECK_EQ(shmq_client_close(c), 0);
	/* The dead server's endpoint is stale: remove it and leave nothing. */
	CHECK_EQ(shmq_remove(&cfg, 0), 0);
	check_nothing_left(&cfg);
	return ms;
}

/* ---- (c) a client killed holding a reservation --------------------------- */

static void reserving_client(const shmq_config *cfg, int ready_fd, int hold_fd)
{
	shmq_client *c;
	if (shmq_client_connect(&c, cfg) < 0)
		_exit(2);
	unsigned char buf[MSG_MAX];
	for (uint32_t seq = 0; seq < 3; seq++)
		if (shmq_client_send(c, buf, make_msg(buf, 0, seq), 5000) < 0)
			_exit(3);
	/* Reserve, half fill with junk that looks like record headers, and die
	 * before committing. */
	void *p;
	if (shmq_client_reserve(c, 1000, &p, 5000) < 0)
		_exit(4);
	memset(p, 0x51, 500);
	if (write(ready_fd, "r", 1) != 1)
		_exit(5);
	wait_eof(hold_fd);
	_exit(6);
}

static void test_client_killed_reserving(int posix)
{
	shmq_config cfg = test_config(2, posix);
	cfg.slots = 1; /* the successor must get the very same slot */
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	int ready[2], hold[2];
	xpipe(ready);
	xpipe(hold);
	pid_t pid = fork_kid(CHILD_S);
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		reserving_client(&cfg, ready[1], hold[0]);
	}
	close(ready[1]);
	close(hold[0]);
	char r;
	CHECK_EQ(get(ready[0], &r, 1), 1);
	close(ready[0]);
	CHECK(kill(pid, SIGKILL) == 0);
	uint64_t t_kill = now_ns();
	reap_killed(pid);
	close(hold[1]);

	/* Exactly the three committed messages, then nothing: the reservation
	 * never becomes a message. */
	struct stream_state st = {0};
	uint64_t t_drop = 0;
	int who;
	while ((who = recv_one(s, &st, 100)) >= 0 || !t_drop) {
		CHECK(who <= 0);
		if (!t_drop && client_count(s, 0) == 0)
			t_drop = now_ns();
		CHECK(t_drop || ms_since(t_kill) < 1000);
	}
	CHECK_EQ(st.next[0], 3);
	CHECK_EQ(shmq_server_recv(s, NULL, 0, NULL, 200), -ETIMEDOUT);

	/* The server carries on: a newcomer gets the slot and a reply. */
	pid_t late = fork_kid(CHILD_S);
	if (late == 0) {
		shmq_client *c;
		int rc = shmq_client_connect(&c, &cfg);
		if (rc < 0)
			_exit(2);
		char rep[16];
		ssize_t n = shmq_client_request(c, "ping", 4, rep, sizeof(rep), 5000);
		shmq_client_close(c);
		_exit(n == 4 && memcmp(rep, "pong", 4) == 0 ? 0 : 3);
	}
	char buf[16];
	shmq_msg m;
	CHECK_EQ(shmq_server_recv(s, buf, sizeof(buf), &m, 5000), 4);
	CHECK(memcmp(buf, "ping", 4) == 0 && (m.flags & SHMQ_MSG_REQUEST));
	CHECK_EQ(m.from.slot, st.id[0].slot);
	CHECK(m.from.gen != st.id[0].gen);
	CHECK_EQ(shmq_server_reply(s, &m, "pong", 4, 5000), 0);
	reap_ok(late, 5000);
	printf("crash(%s): client killed holding a reservation: 3 committed messages "
	       "delivered, nothing else; slot freed %.1f ms after SIGKILL\n",
	       posix ? "posix" : "sysv", (double)(t_drop - t_kill) / 1e6);
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing_left(&cfg);
}

/* ---- (d) the server stopped, then continued ------------------------------ */

#define STOP_TOTAL 300

/* Verifies every message in order; "end" stops it and reports the count. */
static void counting_server(const shmq_config *cfg, int ready_fd, int res_fd)
{
	shmq_server *s;
	int rc = shmq_server_create(&s, cfg);
	if (write(ready_fd, &rc, sizeof(rc)) != sizeof(rc) || rc < 0)
		_exit(2);
	unsigned char buf[MSG_MAX];
	uint32_t count = 0;
	for (;;) {
		ssize_t n = shmq_server_recv(s, buf, sizeof(buf), NULL, 20000);
		if (n == 3 && memcmp(buf, "end", 3) == 0)
			break;
		struct mhdr h;
		if (n < 0 || check_msg(buf, (size_t)n, &h) < 0 || h.seq != count) {
			fprintf(stderr, "server: bad message %u (%zd)\n", count, n);
			_exit(3);
		}
		count++;
	}
	shmq_server_close(s);
	_exit(write(res_fd, &count, sizeof(count)) == sizeof(count) ? 0 : 4);
}

static void test_server_stopped(int posix)
{
	shmq_config cfg = test_config(3, posix);
	cfg.ring_size = 4096;
	int ready[2], res[2];
	xpipe(ready);
	xpipe(res);
	pid_t srv = fork_kid(CHILD_S);
	if (srv == 0) {
		close(ready[0]);
		close(res[0]);
		counting_server(&cfg, ready[1], res[1]);
	}
	close(ready[1]);
	close(res[1]);
	int rc = -1;
	CHECK_EQ(get(ready[0], &rc, sizeof(rc)), 1);
	close(ready[0]);
	CHECK_EQ(rc, 0);

	shmq_client *c;
	CHECK_EQ(shmq_client_connect(&c, &cfg), 0);
	unsigned char buf[MSG_MAX];
	uint32_t seq = 0;
	for (; seq < 10; seq++)
		CHECK_EQ(shmq_client_send(c, buf, make_msg(buf, 0, seq), 5000), 0);

	CHECK(kill(srv, SIGSTOP) == 0);
	int st;
	CHECK(waitpid(srv, &st, WUNTRACED) == srv && WIFSTOPPED(st));
	while ((rc = shmq_client_send(c, buf, make_msg(buf, 0, seq), 0)) == 0)
		seq++;
	CHECK_EQ(rc, -EAGAIN);
	/* Several check slices pass while it is stopped: alive, not -EPIPE. */
	uint64_t t0 = now_ns();
	rc = shmq_client_send(c, buf, make_msg(buf, 0, seq), 500);
	double ms = ms_since(t0);
	CHECK_EQ(rc, -ETIMEDOUT);
	CHECK(ms >= 499 && ms < 2000);
	CHECK_EQ(shmq_client_check(c), 0);
	uint32_t queued = seq;

	CHECK(kill(srv, SIGCONT) == 0);
	for (; seq < STOP_TOTAL; seq++)
		CHECK_EQ(shmq_client_send(c, buf, make_msg(buf, 0, seq), 5000), 0);
	CHECK_EQ(shmq_client_send(c, "end", 3, 5000), 0);
	uint32_t count = 0;
	CHECK_EQ(get(res[0], &count, sizeof(count)), 1);
	close(res[0]);
	reap_ok(srv, 5000);
	CHECK_EQ(count, STOP_TOTAL);
	CHECK_EQ(shmq_client_close(c), 0);
	printf("crash(%s): server SIGSTOPped with %u messages queued: send -ETIMEDOUT after "
	       "%.1f ms (asked 500), client_check 0; after SIGCONT all %u delivered\n",
	       posix ? "posix" : "sysv", queued, ms, count);
	check_nothing_left(&cfg);
}

int main(void)
{
	setup(100); /* passed stays 0: everything is removed on every exit */
	ep_track_test_configs();
	setvbuf(stdout, NULL, _IOLBF, 0);

	double worst = 0;
	for (int posix = 0; posix < 2; posix++) {
		test_client_killed_streaming(posix);
		for (int w = IN_RECV; w <= IN_REQUEST; w++) {
			double ms = server_killed_under(posix, (enum block_in)w);
			worst = ms > worst ? ms : worst;
		}
		test_client_killed_reserving(posix);
		test_server_stopped(posix);
	}
	printf("crash: worst server-death detection %.1f ms (bound 1000 ms)\n", worst);
	return 0;
}
