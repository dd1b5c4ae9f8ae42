/* SPDX-License-Identifier: MIT */
/* The tutorial's hybrid, System V flavour: a shmget segment holding a slot
 * buffer per direction, and a semget set of four counting semaphores. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include "semring.h"
#include "transport.h"

struct sysv_hybrid {
	struct semring r;
	int semid;
	void *mem;
};

static int sv_wait(void *ctx, unsigned sem)
{
	struct sembuf op = { .sem_num = (unsigned short)sem, .sem_op = -1 };
	while (semop(*(int *)ctx, &op, 1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int sv_post(void *ctx, unsigned sem)
{
	struct sembuf op = { .sem_num = (unsigned short)sem, .sem_op = 1 };
	return semop(*(int *)ctx, &op, 1) < 0 ? -errno : 0;
}

static const struct sem_ops sysv_sem_ops = { sv_wait, sv_post };

static void svh_teardown(struct tp_case *c)
{
	struct sysv_hybrid *h = c->priv;
	if (!h)
		return;
	if (h->mem)
		shmdt(h->mem);
	if (h->semid >= 0)
		semctl(h->semid, 0, IPC_RMID);
	free(h);
	c->priv = NULL;
}

static int svh_setup(struct tp_case *c, char *note, size_t n)
{
	(void)note;
	(void)n;
	struct sysv_hybrid *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	c->priv = h;
	h->semid = -1;
	size_t len = semring_geometry(c->size, &h->r.nslots, &h->r.stride);
	int id = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
	if (id < 0)
		goto fail;
	h->mem = shmat(id, NULL, 0);
	/* Marked for removal now: gone once the last process detaches. */
	shmctl(id, IPC_RMID, NULL);
	if (h->mem == (void *)-1) {
		h->mem = NULL;
		goto fail;
	}
	if ((h->semid = semget(IPC_PRIVATE, 4, IPC_CREAT | 0600)) < 0)
		goto fail;
	for (unsigned dir = 0; dir < 2; dir++)
		if (semctl(h->semid, (int)SR_ITEMS(dir), SETVAL, 0) < 0 ||
		    semctl(h->semid, (int)SR_SPACES(dir), SETVAL, (int)h->r.nslots) < 0)
			goto fail;
	h->r.mem = h->mem;
	h->r.size = c->size;
	h->r.ops = &sysv_sem_ops;
	h->r.ctx = &h->semid;
	return 0;
fail:;
	int e = errno;
	svh_teardown(c);
	return -e;
}

static int svh_open(struct tp_case *c, int role, void **ep)
{
	struct sysv_hybrid *h = c->priv;
	struct semring_end *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	semring_end_init(e, &h->r, role == ROLE_SERVER);
	*ep = e;
	return 0;
}

static void svh_close(void *ep)
{
	free(ep);
}

static int svh_send(void *ep, unsigned to, const void *buf, size_t len)
{
	(void)to;
	return semring_send(ep, buf, len);
}

static ssize_t svh_recv(void *ep, void *buf, size_t cap, unsigned *from)
{
	*from = 0;
	return semring_recv(ep, buf, cap);
}

const struct transport tp_shm_sysv_sem = {
	.name = "shm-sysv-sem",
	.mode = "copy",
	.family = "shm",
	.what = "shmget segment + System V semaphores (semop): the tutorial's hybrid",
	.caps = TP_LAT | TP_TPUT | TP_IDLE,
	.setup = svh_setup,
	.teardown = svh_teardown,
	.open = svh_open,
	.close = svh_close,
	.send = svh_send,
	.recv = svh_recv,
};
