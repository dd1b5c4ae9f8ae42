/* SPDX-License-Identifier: MIT */
/* nng pair1 sockets over ipc:// (a Unix socket in /tmp). Built when the
 * build found nng (tools/bench/optional.cmake); skipped with a note
 * otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"

#ifdef SHMQ_BENCH_HAVE_NNG
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

struct nn_case {
	char path[96];
	char url[112];
};

struct end {
	nng_socket sock;
	int open;
};

/* nng has its own error numbers: map the few that matter. */
static int nerr(int rv)
{
	switch (rv) {
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_ECLOSED:
		return -EPIPE;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	default:
		return -EIO;
	}
}

/* Above this, nng 1.5 (Debian 12) pair sockets lost a message now and then
 * in our runs (the receiver waits forever; close hangs), also known
 * upstream (nanomsg/nng#1543 and others): skipped rather than reported as
 * a hang. */
#define NNG_MAX_SIZE (128u * 1024u)

static int nn_setup(struct tp_case *c, char *note, size_t n)
{
	if (c->size > NNG_MAX_SIZE) {
		snprintf(note, n, "over 128 KiB: nng %s pair sockets lose large messages",
			 nng_version());
		return -ENOTSUP;
	}
	struct nn_case *z = malloc(sizeof(*z));
	if (!z)
		return -ENOMEM;
	snprintf(z->path, sizeof(z->path), "/tmp/%s.nng", c->tag);
	snprintf(z->url, sizeof(z->url), "ipc://%s", z->path);
	c->priv = z;
	return 0;
}

static void nn_teardown(struct tp_case *c)
{
	struct nn_case *z = c->priv;
	if (!z)
		return;
	unlink(z->path);
	free(z);
	c->priv = NULL;
}

static int nn_open(struct tp_case *c, int role, void **ep)
{
	struct nn_case *z = c->priv;
	struct end *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*ep = e;
	int rv = nng_pair1_open(&e->sock);
	if (rv)
		return nerr(rv);
	e->open = 1;
	/* Room for our messages: over NNG_OPT_RECVMAXSZ (1 MiB by default)
	 * nng drops the connection, and the message with it. */
	rv = nng_socket_set_size(e->sock, NNG_OPT_RECVMAXSZ, 2 * c->size + (1u << 20));
	if (rv)
		return nerr(rv);
	if (role == ROLE_SERVER)
		rv = nng_listen(e->sock, z->url, NULL, 0);
	else
		rv = nng_dial(e->sock, z->url, NULL, 0);
	return rv ? nerr(rv) : 0;
}

static void nn_close(void *ep)
{
	struct end *e = ep;
	if (e->open)
		nng_close(e->sock);
	free(e);
}

static int nn_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	int rv = nng_send(((struct end *)ep)->sock, (void *)buf, len, 0);
	return rv ? nerr(rv) : 0;
}

static ssize_t nn_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	*from = 0;
	size_t n = cap;
	int rv = nng_recv(((struct end *)ep)->sock, buf, &n, 0);
	return rv ? nerr(rv) : (ssize_t)n;
}

const struct transport tp_nng = {
	.name = "nng",
	.mode = "ipc",
	.family = "other",
	.what = "nng pair1 sockets over ipc://",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = nn_setup,
	.teardown = nn_teardown,
	.open = nn_open,
	.close = nn_close,
	.send = nn_send,
	.recv = nn_recv,
};
#else
const struct transport tp_nng = {
	.name = "nng",
	.mode = "ipc",
	.family = "other",
	.what = "nng pair1 sockets over ipc://",
	.caps = TP_LAT | TP_TPUT,
	.missing = "not built: nng was not found at build time (Debian: libnng-dev)",
};
#endif
