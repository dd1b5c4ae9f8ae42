/* SPDX-License-Identifier: MIT */
/* ZeroMQ PAIR sockets over ipc:// (a Unix socket in /tmp). Built when the
 * build found libzmq (tools/bench/optional.cmake); skipped with a note
 * otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "transport.h"

#ifdef SHMQ_BENCH_HAVE_ZMQ
#include <zmq.h>

struct zq_case {
	char path[96];
	char url[112];
};

struct end {
	void *ctx, *sock;
};

static int zq_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	struct zq_case *z = malloc(sizeof(*z));
	if (!z)
		return -ENOMEM;
	snprintf(z->path, sizeof(z->path), "/tmp/%s.zmq", c->tag);
	snprintf(z->url, sizeof(z->url), "ipc://%s", z->path);
	c->priv = z;
	return 0;
}

static void zq_teardown(struct tp_case *c)
{
	struct zq_case *z = c->priv;
	if (!z)
		return;
	unlink(z->path);
	free(z);
	c->priv = NULL;
}

/* Each process makes its own context, after the fork (a context's threads
 * do not survive fork). */
static int zq_open(struct tp_case *c, int role, void **ep)
{
	struct zq_case *z = c->priv;
	struct end *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*ep = e;
	e->ctx = zmq_ctx_new();
	if (!e->ctx)
		return -errno;
	e->sock = zmq_socket(e->ctx, ZMQ_PAIR);
	if (!e->sock)
		return -zmq_errno();
	int rc = role == ROLE_SERVER ? zmq_bind(e->sock, z->url) : zmq_connect(e->sock, z->url);
	return rc < 0 ? -zmq_errno() : 0;
}

static void zq_close(void *ep)
{
	struct end *e = ep;
	if (e->sock)
		zmq_close(e->sock);
	if (e->ctx)
		zmq_ctx_term(e->ctx);
	free(e);
}

static int zq_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	while (zmq_send(((struct end *)ep)->sock, buf, len, 0) < 0)
		if (zmq_errno() != EINTR)
			return -zmq_errno();
	return 0;
}

static ssize_t zq_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	int n;
	*from = 0;
	while ((n = zmq_recv(((struct end *)ep)->sock, buf, cap, 0)) < 0)
		if (zmq_errno() != EINTR)
			return -zmq_errno();
	return n; /* the full length, even if it was truncated to cap */
}

const struct transport tp_zmq = {
	.name = "zmq",
	.mode = "ipc",
	.family = "other",
	.what = "ZeroMQ PAIR sockets over ipc://",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = zq_setup,
	.teardown = zq_teardown,
	.open = zq_open,
	.close = zq_close,
	.send = zq_send,
	.recv = zq_recv,
};
#else
const struct transport tp_zmq = {
	.name = "zmq",
	.mode = "ipc",
	.family = "other",
	.what = "ZeroMQ PAIR sockets over ipc://",
	.caps = TP_LAT | TP_TPUT,
	.missing = "not built: libzmq was not found at build time (Debian: libzmq3-dev)",
};
#endif
