/* SPDX-License-Identifier: MIT */
/* POSIX message queues (mq_send/mq_receive), one per direction. A queue
 * holds up to 10 messages (the unprivileged default of fs.mqueue.msg_max).
 * Messages over fs.mqueue.msgsize_max need CAP_SYS_RESOURCE: skipped. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "transport.h"

struct queues {
	mqd_t c2s, s2c;
	long depth;
};

struct end {
	mqd_t rq, wq;
};

/* Room for the queue's bytes in RLIMIT_MSGQUEUE (800 KiB by default): raise
 * the soft limit up to the hard one (root may raise both). */
static void raise_rlimit(size_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need;
	if (rl.rlim_max < need && setrlimit(RLIMIT_MSGQUEUE, &(struct rlimit){ need, need }) == 0)
		return;
	if (rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_MSGQUEUE, &rl);
}

/* Create, then unlink at once: the descriptors (inherited by the children)
 * keep the queue alive, and nothing is left behind whatever happens. */
static mqd_t make_queue(const char *tag, const char *dir, size_t size, long depth)
{
	char name[96];
	snprintf(name, sizeof(name), "/%s-%s", tag, dir);
	struct mq_attr a = { .mq_maxmsg = depth, .mq_msgsize = (long)size };
	mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	if (q != (mqd_t)-1)
		mq_unlink(name);
	return q;
}

static void mq_teardown(struct tp_case *c)
{
	struct queues *q = c->priv;
	if (!q)
		return;
	if (q->c2s != (mqd_t)-1)
		mq_close(q->c2s);
	if (q->s2c != (mqd_t)-1)
		mq_close(q->s2c);
	free(q);
	c->priv = NULL;
}

static int mq_setup(struct tp_case *c, char *note, size_t n)
{
	struct queues *q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct queues){ (mqd_t)-1, (mqd_t)-1, 10 };
	c->priv = q;
	/* The kernel charges about msgsize + a pointer per message. */
	raise_rlimit(2 * (size_t)q->depth * (c->size + 64) + 65536);
	/* Both queues must fit the user's RLIMIT_MSGQUEUE: shallower if not. */
	int e = 0;
	for (; q->depth >= 1; q->depth /= 2) {
		q->c2s = make_queue(c->tag, "c2s", c->size, q->depth);
		if (q->c2s != (mqd_t)-1)
			q->s2c = make_queue(c->tag, "s2c", c->size, q->depth);
		if (q->c2s != (mqd_t)-1 && q->s2c != (mqd_t)-1)
			break;
		e = errno;
		if (q->c2s != (mqd_t)-1)
			mq_close(q->c2s);
		q->c2s = (mqd_t)-1;
		if (e != EMFILE)
			break;
	}
	if (q->c2s == (mqd_t)-1 || q->s2c == (mqd_t)-1) {
		mq_teardown(c);
		struct rlimit rl = { 0, 0 };
		getrlimit(RLIMIT_MSGQUEUE, &rl);
		if (e == EINVAL) {
			snprintf(note, n, "message over fs.mqueue.msgsize_max; --raise-limits as root");
			return -ENOTSUP;
		}
		if (e == EMFILE || e == ENOMEM) {
			snprintf(note, n, "two queues of one message over RLIMIT_MSGQUEUE (%llu B)",
				 (unsigned long long)rl.rlim_cur);
			return -ENOTSUP;
		}
		return -e;
	}
	if (q->depth < 10)
		snprintf(note, n, "queue depth %ld (RLIMIT_MSGQUEUE)", q->depth);
	return 0;
}

static int mq_open_ep(struct tp_case *c, int role, void **ep)
{
	struct queues *q = c->priv;
	struct end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->rq = role == ROLE_SERVER ? q->c2s : q->s2c;
	e->wq = role == ROLE_SERVER ? q->s2c : q->c2s;
	*ep = e;
	return 0;
}

static void mq_close_ep(void *ep)
{
	free(ep);
}

static int mq_send_msg(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	while (mq_send(((struct end *)ep)->wq, buf, len, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static ssize_t mq_recv_msg(void *ep, void *buf, size_t cap, unsigned *from)
{
	ssize_t n;
	*from = 0;
	while ((n = mq_receive(((struct end *)ep)->rq, buf, cap, NULL)) < 0)
		if (errno != EINTR)
			return -errno;
	return n;
}

const struct transport tp_posix_mq = {
	.name = "posix-mq",
	.mode = "copy",
	.family = "msgq",
	.what = "POSIX message queues (mq_send/mq_receive), one per direction",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = mq_setup,
	.teardown = mq_teardown,
	.open = mq_open_ep,
	.close = mq_close_ep,
	.send = mq_send_msg,
	.recv = mq_recv_msg,
};
