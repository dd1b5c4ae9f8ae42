/* SPDX-License-Identifier: MIT */
/* Unix stream sockets: one socketpair per client; the server polls them. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

struct pairs {
	unsigned n;
	int sv[][2]; /* [i][0] server side, [i][1] client i */
};

struct end {
	int fd;   /* client */
	int *fds; /* server */
	struct fd_multi m;
};

static void us_teardown(struct tp_case *c)
{
	struct pairs *p = c->priv;
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++) {
		close(p->sv[i][0]);
		close(p->sv[i][1]);
	}
	free(p);
	c->priv = NULL;
}

static int us_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	struct pairs *p = calloc(1, sizeof(*p) + c->nclients * sizeof(p->sv[0]));
	if (!p)
		return -ENOMEM;
	c->priv = p;
	for (; p->n < c->nclients; p->n++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv[p->n]) < 0) {
			int e = errno;
			us_teardown(c);
			return -e;
		}
	}
	return 0;
}

static int us_open(struct tp_case *c, int role, void **ep)
{
	struct pairs *p = c->priv;
	struct end *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*ep = e;
	if (role != ROLE_SERVER) {
		e->fd = p->sv[role][1];
		return 0;
	}
	e->fd = -1;
	e->fds = calloc(p->n, sizeof(int));
	if (!e->fds)
		return -ENOMEM;
	for (unsigned i = 0; i < p->n; i++)
		e->fds[i] = p->sv[i][0];
	return fd_multi_init(&e->m, e->fds, p->n);
}

static void us_close(void *ep)
{
	struct end *e = ep;
	fd_multi_free(&e->m);
	free(e->fds);
	free(e);
}

static int us_send(void *ep, unsigned to, const void *buf, size_t len)
{
	struct end *e = ep;
	return fd_write_full(e->fds ? e->fds[to] : e->fd, buf, len);
}

static ssize_t us_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	struct end *e = ep;
	if (e->fds)
		return fd_multi_recv(&e->m, buf, cap, from);
	*from = 0;
	int rc = fd_read_full(e->fd, buf, cap);
	return rc < 0 ? rc : (ssize_t)cap;
}

const struct transport tp_unix_stream = {
	.name = "unix-stream",
	.mode = "copy",
	.family = "socket",
	.what = "Unix stream sockets (socketpair), poll(2) over clients",
	.caps = TP_LAT | TP_TPUT | TP_IDLE | TP_MULTI,
	.setup = us_setup,
	.teardown = us_teardown,
	.open = us_open,
	.close = us_close,
	.send = us_send,
	.recv = us_recv,
};
