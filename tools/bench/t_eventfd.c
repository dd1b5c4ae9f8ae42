/* SPDX-License-Identifier: MIT */
/* eventfd + shared buffer: the slot buffer of the hybrid, with eventfds in
 * semaphore mode (EFD_SEMAPHORE) in place of semaphores. Every wait and
 * every post is a read(2) or write(2). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "semring.h"
#include "transport.h"

struct efd_ring {
	struct semring r;
	int fd[4];
	void *mem;
	size_t len;
};

static int efd_wait(void *ctx, unsigned sem)
{
	uint64_t v;
	while (read(((int *)ctx)[sem], &v, sizeof(v)) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int efd_post(void *ctx, unsigned sem)
{
	uint64_t one = 1;
	while (write(((int *)ctx)[sem], &one, sizeof(one)) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static const struct sem_ops efd_ops = { efd_wait, efd_post };

static void efd_teardown(struct tp_case *c)
{
	struct efd_ring *h = c->priv;
	if (!h)
		return;
	for (unsigned i = 0; i < 4; i++)
		if (h->fd[i] >= 0)
			close(h->fd[i]);
	if (h->mem)
		munmap(h->mem, h->len);
	free(h);
	c->priv = NULL;
}

static int efd_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	struct efd_ring *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	c->priv = h;
	for (unsigned i = 0; i < 4; i++)
		h->fd[i] = -1;
	h->len = semring_geometry(c->size, &h->r.nslots, &h->r.stride);
	h->mem = bench_shared_alloc(h->len);
	if (!h->mem)
		goto fail;
	for (unsigned dir = 0; dir < 2; dir++) {
		h->fd[SR_ITEMS(dir)] = eventfd(0, EFD_SEMAPHORE);
		h->fd[SR_SPACES(dir)] = eventfd(h->r.nslots, EFD_SEMAPHORE);
		if (h->fd[SR_ITEMS(dir)] < 0 || h->fd[SR_SPACES(dir)] < 0)
			goto fail;
	}
	h->r.mem = h->mem;
	h->r.size = c->size;
	h->r.ops = &efd_ops;
	h->r.ctx = h->fd;
	return 0;
fail:;
	int e = errno;
	efd_teardown(c);
	return -e;
}

static int efd_open(struct tp_case *c, int role, void **ep)
{
	struct efd_ring *h = c->priv;
	struct semring_end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	semring_end_init(e, &h->r, role == ROLE_SERVER);
	*ep = e;
	return 0;
}

static void efd_close(void *ep)
{
	free(ep);
}

static int efd_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	return semring_send(ep, buf, len);
}

static ssize_t efd_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	*from = 0;
	return semring_recv(ep, buf, cap);
}

const struct transport tp_eventfd = {
	.name = "eventfd",
	.mode = "copy",
	.family = "other",
	.what = "shared slot buffer + eventfd(2) counters (EFD_SEMAPHORE) as semaphores",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = efd_setup,
	.teardown = efd_teardown,
	.open = efd_open,
	.close = efd_close,
	.send = efd_send,
	.recv = efd_recv,
};
