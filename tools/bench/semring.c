/* SPDX-License-Identifier: MIT */
#include "semring.h"

#include <errno.h>
#include <string.h>

#include "transport.h"

size_t semring_geometry(size_t size, uint32_t *nslots, size_t *stride)
{
	size_t s = (8 + size + 63) & ~(size_t)63;
	/* About as many bytes as a shmq ring of the same message size. */
	size_t n = bench_ring_bytes(size) / s;
	n = n < 2 ? 2 : n > 1024 ? 1024 : n;
	*nslots = (uint32_t)n;
	*stride = s;
	return 2 * n * s;
}

static unsigned char *slot(const struct semring *r, unsigned dir, uint64_t pos)
{
	return r->mem + ((size_t)dir * r->nslots + (size_t)(pos % r->nslots)) * r->stride;
}

void semring_end_init(struct semring_end *e, const struct semring *r, int server)
{
	e->r = r;
	e->out = server ? SR_S2C : SR_C2S;
	e->in = server ? SR_C2S : SR_S2C;
	e->wpos = e->rpos = 0;
}

/* The semaphore operations order the slot's bytes: the consumer's wait on
 * ITEMS returns only after the producer's post, which follows its copy. */
int semring_send(struct semring_end *e, const void *buf, size_t len)
{
	const struct semring *r = e->r;
	if (len > r->size)
		return -EMSGSIZE;
	int rc = r->ops->wait(r->ctx, SR_SPACES(e->out));
	if (rc < 0)
		return rc;
	unsigned char *s = slot(r, e->out, e->wpos++);
	uint64_t l = len;
	memcpy(s, &l, 8);
	memcpy(s + 8, buf, len);
	return r->ops->post(r->ctx, SR_ITEMS(e->out));
}

ssize_t semring_recv(struct semring_end *e, void *buf, size_t cap)
{
	const struct semring *r = e->r;
	int rc = r->ops->wait(r->ctx, SR_ITEMS(e->in));
	if (rc < 0)
		return rc;
	const unsigned char *s = slot(r, e->in, e->rpos++);
	uint64_t l;
	memcpy(&l, s, 8);
	if (l > cap || l > r->size)
		return -EPROTO;
	memcpy(buf, s + 8, (size_t)l);
	rc = r->ops->post(r->ctx, SR_SPACES(e->in));
	return rc < 0 ? rc : (ssize_t)l;
}
