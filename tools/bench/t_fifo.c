/* SPDX-License-Identifier: MIT */
/* Two named pipes (mkfifo), one per direction: the tutorial's first step. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport.h"

struct fifos {
	char c2s[96], s2c[96];
};

struct end {
	int rfd, wfd;
	const struct fifos *f;
};

static int fifo_setup(struct tp_case *c, char *note, size_t n)
{
	struct fifos *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	snprintf(f->c2s, sizeof(f->c2s), "/tmp/%s.c2s", c->tag);
	snprintf(f->s2c, sizeof(f->s2c), "/tmp/%s.s2c", c->tag);
	if (mkfifo(f->c2s, 0600) < 0 || mkfifo(f->s2c, 0600) < 0) {
		int e = errno;
		snprintf(note, n, "mkfifo in /tmp");
		unlink(f->c2s);
		free(f);
		return -e;
	}
	c->priv = f;
	return 0;
}

static void fifo_teardown(struct tp_case *c)
{
	struct fifos *f = c->priv;
	if (!f)
		return;
	unlink(f->c2s);
	unlink(f->s2c);
	free(f);
}

/* Opening a FIFO blocks until its other end is opened too, so the server
 * opens them in accept(), in the order that the client's open() mirrors. */
static int fifo_open(struct tp_case *c, int role, void **ep)
{
	struct fifos *f = c->priv;
	struct end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (struct end){ -1, -1, f };
	*ep = e;
	if (role == ROLE_SERVER)
		return 0;
	if ((e->wfd = open(f->c2s, O_WRONLY)) < 0 || (e->rfd = open(f->s2c, O_RDONLY)) < 0)
		return -errno;
	return 0;
}

static int fifo_accept(void *ep)
{
	struct end *e = ep;
	if ((e->rfd = open(e->f->c2s, O_RDONLY)) < 0 ||
	    (e->wfd = open(e->f->s2c, O_WRONLY)) < 0)
		return -errno;
	return 0;
}

static void fifo_close(void *ep)
{
	struct end *e = ep;
	if (e->rfd >= 0)
		close(e->rfd);
	if (e->wfd >= 0)
		close(e->wfd);
	free(e);
}

static int fifo_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	return fd_write_full(((struct end *)ep)->wfd, buf, len);
}

static ssize_t fifo_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	*from = 0;
	int rc = fd_read_full(((struct end *)ep)->rfd, buf, cap);
	return rc < 0 ? rc : (ssize_t)cap;
}

const struct transport tp_fifo = {
	.name = "fifo",
	.mode = "copy",
	.family = "fifo",
	.what = "two named pipes (mkfifo(3)) in /tmp, one per direction",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = fifo_setup,
	.teardown = fifo_teardown,
	.open = fifo_open,
	.accept = fifo_accept,
	.close = fifo_close,
	.send = fifo_send,
	.recv = fifo_recv,
};
