/* SPDX-License-Identifier: MIT */
/* System V message queues (msgget/msgsnd/msgrcv), one per direction: the
 * tutorial's second step. Messages over kernel.msgmax are skipped. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include "transport.h"

struct queues {
	int c2s, s2c;
};

struct end {
	int rq, wq;
	size_t size;
	struct {
		long mtype;
		char text[];
	} *buf;
};

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Let a queue hold a few messages: the default (kernel.msgmnb, 16 KiB)
 * holds two of 8 KiB. Raising it needs CAP_SYS_RESOURCE; without it we
 * keep what we have. */
static int queue_fit(int q, size_t size)
{
	struct msqid_ds ds;
	if (msgctl(q, IPC_STAT, &ds) < 0)
		return -errno;
	size_t want = 16 * size;
	if (want > ds.msg_qbytes) {
		ds.msg_qbytes = (msglen_t)want;
		msgctl(q, IPC_SET, &ds);
		msgctl(q, IPC_STAT, &ds);
	}
	return size <= ds.msg_qbytes ? 0 : -ENOTSUP;
}

static void sysv_teardown(struct tp_case *c)
{
	struct queues *q = c->priv;
	if (!q)
		return;
	if (q->c2s >= 0)
		msgctl(q->c2s, IPC_RMID, NULL);
	if (q->s2c >= 0)
		msgctl(q->s2c, IPC_RMID, NULL);
	free(q);
	c->priv = NULL;
}

static int sysv_setup(struct tp_case *c, char *note, size_t n)
{
	long max = read_long("/proc/sys/kernel/msgmax");
	if (max >= 0 && c->size > (size_t)max) {
		snprintf(note, n, "message over kernel.msgmax (%ld B); --raise-limits as root", max);
		return -ENOTSUP;
	}
	struct queues *q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	c->priv = q;
	q->c2s = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	q->s2c = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (q->c2s < 0 || q->s2c < 0) {
		int e = errno;
		sysv_teardown(c);
		return -e;
	}
	if (queue_fit(q->c2s, c->size) < 0 || queue_fit(q->s2c, c->size) < 0) {
		snprintf(note, n, "message over the queue's byte limit (kernel.msgmnb)");
		sysv_teardown(c);
		return -ENOTSUP;
	}
	return 0;
}

static int sysv_open(struct tp_case *c, int role, void **ep)
{
	struct queues *q = c->priv;
	struct end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->size = c->size;
	e->buf = bench_alloc(sizeof(long) + c->size);
	if (!e->buf) {
		free(e);
		return -ENOMEM;
	}
	e->rq = role == ROLE_SERVER ? q->c2s : q->s2c;
	e->wq = role == ROLE_SERVER ? q->s2c : q->c2s;
	*ep = e;
	return 0;
}

static void sysv_close(void *ep)
{
	struct end *e = ep;
	bench_free(e->buf, sizeof(long) + e->size);
	free(e);
}

/* msgsnd takes the type in front of the text: one copy into that buffer, as
 * any user of the API does. */
static int sysv_send(void *ep, unsigned to, const void *buf, size_t len)
{
	struct end *e = ep;
	(void)to;
	e->buf->mtype = 1;
	memcpy(e->buf->text, buf, len);
	while (msgsnd(e->wq, e->buf, len, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static ssize_t sysv_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	struct end *e = ep;
	ssize_t n;
	*from = 0;
	while ((n = msgrcv(e->rq, e->buf, e->size, 0, 0)) < 0)
		if (errno != EINTR)
			return -errno;
	if ((size_t)n > cap)
		return -EMSGSIZE;
	memcpy(buf, e->buf->text, (size_t)n);
	return n;
}

const struct transport tp_sysv_msg = {
	.name = "sysv-msg",
	.mode = "copy",
	.family = "msgq",
	.what = "System V message queues (msgsnd/msgrcv), one per direction",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = sysv_setup,
	.teardown = sysv_teardown,
	.open = sysv_open,
	.close = sysv_close,
	.send = sysv_send,
	.recv = sysv_recv,
};
