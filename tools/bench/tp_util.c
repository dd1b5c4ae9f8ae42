/* SPDX-License-Identifier: MIT */
/* Helpers for transport implementations (declared in transport.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

size_t bench_ring_bytes(size_t size)
{
	size_t r = 64 * 1024;
	while (r < 4 * size)
		r <<= 1;
	return r;
}

int fd_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fd_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t r = read(fd, p, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EPIPE;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int fd_multi_init(struct fd_multi *m, const int *fds, unsigned n)
{
	*m = (struct fd_multi){ .n = n };
	m->fds = calloc(n, sizeof(*m->fds));
	m->ready = calloc(n, sizeof(*m->ready));
	m->pfd = calloc(n, sizeof(*m->pfd));
	if (!m->fds || !m->ready || !m->pfd) {
		fd_multi_free(m);
		return -ENOMEM;
	}
	memcpy(m->fds, fds, n * sizeof(*fds));
	for (unsigned i = 0; i < n; i++)
		m->pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	return 0;
}

void fd_multi_free(struct fd_multi *m)
{
	free(m->fds);
	free(m->ready);
	free(m->pfd);
	m->fds = NULL;
	m->ready = NULL;
	m->pfd = NULL;
}

ssize_t fd_multi_recv(struct fd_multi *m, void *buf, size_t len, unsigned *from)
{
	/* One client: no poll, the read blocks as a plain socket would. */
	if (m->n == 1) {
		*from = 0;
		int rc = fd_read_full(m->fds[0], buf, len);
		return rc < 0 ? rc : (ssize_t)len;
	}
	/* Serve every client found ready by one poll before polling again,
	 * so a chatty client cannot starve the others. */
	while (m->next >= m->nready) {
		int rc = poll(m->pfd, m->n, -1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		m->nready = m->next = 0;
		for (unsigned i = 0; i < m->n; i++)
			if (m->pfd[i].revents)
				m->ready[m->nready++] = i;
	}
	unsigned i = m->ready[m->next++];
	*from = i;
	int rc = fd_read_full(m->fds[i], buf, len);
	return rc < 0 ? rc : (ssize_t)len;
}

void *bench_alloc(size_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, len);
	return p;
}

void bench_free(void *p, size_t len)
{
	if (p)
		munmap(p, len ? len : 1);
}

void *bench_shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, len);
	return p;
}
