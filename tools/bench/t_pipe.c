/* SPDX-License-Identifier: MIT */
/* Two anonymous pipes, one per direction (the classic parent/child IPC). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "transport.h"

struct pipes {
	int c2s[2], s2c[2];
};

struct end {
	int rfd, wfd;
};

static int pipe_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	struct pipes *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (pipe(p->c2s) < 0) {
		free(p);
		return -errno;
	}
	if (pipe(p->s2c) < 0) {
		int e = errno;
		close(p->c2s[0]);
		close(p->c2s[1]);
		free(p);
		return -e;
	}
	c->priv = p;
	return 0;
}

static void pipe_teardown(struct tp_case *c)
{
	struct pipes *p = c->priv;
	if (!p)
		return;
	close(p->c2s[0]);
	close(p->c2s[1]);
	close(p->s2c[0]);
	close(p->s2c[1]);
	free(p);
}

static int pipe_open(struct tp_case *c, int role, void **ep)
{
	struct pipes *p = c->priv;
	struct end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (role == ROLE_SERVER)
		*e = (struct end){ p->c2s[0], p->s2c[1] };
	else
		*e = (struct end){ p->s2c[0], p->c2s[1] };
	*ep = e;
	return 0;
}

static void pipe_close(void *ep)
{
	free(ep);
}

static int pipe_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	return fd_write_full(((struct end *)ep)->wfd, buf, len);
}

static ssize_t pipe_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	*from = 0;
	int rc = fd_read_full(((struct end *)ep)->rfd, buf, cap);
	return rc < 0 ? rc : (ssize_t)cap;
}

const struct transport tp_pipe = {
	.name = "pipe",
	.mode = "copy",
	.family = "fifo",
	.what = "two anonymous pipes (pipe(2)), one per direction",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = pipe_setup,
	.teardown = pipe_teardown,
	.open = pipe_open,
	.close = pipe_close,
	.send = pipe_send,
	.recv = pipe_recv,
};
