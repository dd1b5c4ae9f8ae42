/* SPDX-License-Identifier: MIT */
/* Unix datagram sockets (socketpair): message boundaries kept by the kernel.
 * A datagram must fit the socket's send buffer: larger sizes are skipped. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

struct pair {
	int sv[2]; /* [0] server, [1] client */
};

struct end {
	int fd;
};

static void ud_teardown(struct tp_case *c)
{
	struct pair *p = c->priv;
	if (!p)
		return;
	close(p->sv[0]);
	close(p->sv[1]);
	free(p);
	c->priv = NULL;
}

/* Grow the buffers so that a few datagrams fit (SO_SNDBUFFORCE works for
 * root beyond net.core.wmem_max), then check that one really does. */
static int size_buffers(int fd, size_t size)
{
	int want = (int)(4 * size + 65536);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	int got = 0;
	socklen_t len = sizeof(got);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) < 0)
		return -errno;
	/* The kernel doubles the value and charges overhead per datagram. */
	return (size_t)got >= size + 4096 ? 0 : -ENOTSUP;
}

static int ud_setup(struct tp_case *c, char *note, size_t n)
{
	struct pair *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, p->sv) < 0) {
		int e = errno;
		free(p);
		return -e;
	}
	c->priv = p;
	if (size_buffers(p->sv[0], c->size) < 0 || size_buffers(p->sv[1], c->size) < 0) {
		snprintf(note, n, "datagram larger than the socket buffer (net.core.wmem_max)");
		ud_teardown(c);
		return -ENOTSUP;
	}
	return 0;
}

static int ud_open(struct tp_case *c, int role, void **ep)
{
	struct pair *p = c->priv;
	struct end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = p->sv[role == ROLE_SERVER ? 0 : 1];
	*ep = e;
	return 0;
}

static void ud_close(void *ep)
{
	free(ep);
}

static int ud_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	ssize_t n;
	while ((n = send(((struct end *)ep)->fd, buf, len, 0)) < 0)
		if (errno != EINTR)
			return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static ssize_t ud_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	ssize_t n;
	*from = 0;
	/* MSG_TRUNC: report the real length of a datagram larger than cap. */
	while ((n = recv(((struct end *)ep)->fd, buf, cap, MSG_TRUNC)) < 0)
		if (errno != EINTR)
			return -errno;
	return n;
}

const struct transport tp_unix_dgram = {
	.name = "unix-dgram",
	.mode = "copy",
	.family = "socket",
	.what = "Unix datagram sockets (socketpair)",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = ud_setup,
	.teardown = ud_teardown,
	.open = ud_open,
	.close = ud_close,
	.send = ud_send,
	.recv = ud_recv,
};
