/* SPDX-License-Identifier: MIT */
/* The tutorial's hybrid, POSIX flavour: a shm_open segment holding four
 * process-shared semaphores (sem_init with pshared) and a slot buffer per
 * direction. sem_post makes a syscall only when someone sleeps. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "semring.h"
#include "transport.h"

#define HDR 4096 /* the semaphores, on their own page */

struct posix_hybrid {
	struct semring r;
	unsigned char *mem;
	size_t len;
};

static int px_wait(void *ctx, unsigned sem)
{
	while (sem_wait((sem_t *)ctx + sem) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int px_post(void *ctx, unsigned sem)
{
	return sem_post((sem_t *)ctx + sem) < 0 ? -errno : 0;
}

static const struct sem_ops posix_sem_ops = { px_wait, px_post };

static void pxh_teardown(struct tp_case *c)
{
	struct posix_hybrid *h = c->priv;
	if (!h)
		return;
	if (h->mem) {
		for (unsigned i = 0; i < 4; i++)
			sem_destroy((sem_t *)(void *)h->mem + i);
		munmap(h->mem, h->len);
	}
	free(h);
	c->priv = NULL;
}

static int pxh_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	struct posix_hybrid *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	c->priv = h;
	h->len = HDR + semring_geometry(c->size, &h->r.nslots, &h->r.stride);
	char name[96];
	snprintf(name, sizeof(name), "/%s", c->tag);
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0)
		goto fail;
	/* Unlinked at once: the mapping, inherited by the children, is enough. */
	shm_unlink(name);
	if (ftruncate(fd, (off_t)h->len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	void *m = mmap(NULL, h->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		goto fail;
	h->mem = m;
	sem_t *s = (sem_t *)(void *)h->mem;
	for (unsigned dir = 0; dir < 2; dir++)
		if (sem_init(s + SR_ITEMS(dir), 1, 0) < 0 ||
		    sem_init(s + SR_SPACES(dir), 1, h->r.nslots) < 0)
			goto fail;
	h->r.mem = h->mem + HDR;
	h->r.size = c->size;
	h->r.ops = &posix_sem_ops;
	h->r.ctx = s;
	return 0;
fail:;
	int e = errno;
	pxh_teardown(c);
	return -e;
}

static int pxh_open(struct tp_case *c, int role, void **ep)
{
	struct posix_hybrid *h = c->priv;
	struct semring_end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	semring_end_init(e, &h->r, role == ROLE_SERVER);
	*ep = e;
	return 0;
}

static void pxh_close(void *ep)
{
	free(ep);
}

static int pxh_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	return semring_send(ep, buf, len);
}

static ssize_t pxh_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	*from = 0;
	return semring_recv(ep, buf, cap);
}

const struct transport tp_shm_posix_sem = {
	.name = "shm-posix-sem",
	.mode = "copy",
	.family = "shm",
	.what = "shm_open segment + POSIX process-shared semaphores (sem_wait/sem_post)",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = pxh_setup,
	.teardown = pxh_teardown,
	.open = pxh_open,
	.close = pxh_close,
	.send = pxh_send,
	.recv = pxh_recv,
};
