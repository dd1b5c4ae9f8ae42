/* SPDX-License-Identifier: MIT */
/* TCP over loopback (127.0.0.1 only), TCP_NODELAY on both sides. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

struct listener {
	int fd;
	struct sockaddr_in addr;
};

struct end {
	int fd;   /* client */
	int *fds; /* server: one per client */
	unsigned n;
	int lfd;
	struct fd_multi m;
};

static void tcp_teardown(struct tp_case *c)
{
	struct listener *l = c->priv;
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l);
	c->priv = NULL;
}

/* Listen in the parent, so clients can connect as soon as they exist. */
static int tcp_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	struct listener *l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	c->priv = l;
	l->addr = (struct sockaddr_in){ .sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(l->addr);
	l->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&l->addr, sizeof(l->addr)) < 0 ||
	    listen(l->fd, (int)c->nclients + 4) < 0 ||
	    getsockname(l->fd, (struct sockaddr *)&l->addr, &len) < 0) {
		int e = errno;
		tcp_teardown(c);
		return -e;
	}
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_open(struct tp_case *c, int role, void **ep)
{
	struct listener *l = c->priv;
	struct end *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*ep = e;
	e->fd = -1;
	if (role == ROLE_SERVER) {
		e->lfd = l->fd;
		e->n = c->nclients;
		e->fds = calloc(e->n, sizeof(int));
		return e->fds ? 0 : -ENOMEM;
	}
	e->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (e->fd < 0 || connect(e->fd, (struct sockaddr *)&l->addr, sizeof(l->addr)) < 0)
		return -errno;
	nodelay(e->fd);
	return 0;
}

static int tcp_accept(void *ep)
{
	struct end *e = ep;
	for (unsigned i = 0; i < e->n; i++) {
		int fd;
		while ((fd = accept(e->lfd, NULL, NULL)) < 0)
			if (errno != EINTR)
				return -errno;
		nodelay(fd);
		e->fds[i] = fd;
	}
	return fd_multi_init(&e->m, e->fds, e->n);
}

static void tcp_close(void *ep)
{
	struct end *e = ep;
	if (e->fd >= 0)
		close(e->fd);
	for (unsigned i = 0; e->fds && i < e->n; i++)
		close(e->fds[i]);
	fd_multi_free(&e->m);
	free(e->fds);
	free(e);
}

static int tcp_send(void *ep, unsigned to, const void *buf, size_t len)
{
	struct end *e = ep;
	return fd_write_full(e->fds ? e->fds[to] : e->fd, buf, len);
}

static ssize_t tcp_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	struct end *e = ep;
	if (e->fds)
		return fd_multi_recv(&e->m, buf, cap, from);
	*from = 0;
	int rc = fd_read_full(e->fd, buf, cap);
	return rc < 0 ? rc : (ssize_t)cap;
}

const struct transport tp_tcp = {
	.name = "tcp",
	.mode = "copy",
	.family = "socket",
	.what = "TCP over loopback 127.0.0.1, TCP_NODELAY",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = tcp_setup,
	.teardown = tcp_teardown,
	.open = tcp_open,
	.accept = tcp_accept,
	.close = tcp_close,
	.send = tcp_send,
	.recv = tcp_recv,
};
