/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomics.h"
#include "layout.h"

/* ---- OFD locks ---------------------------------------------------------- */

static int ofd(int fd, int cmd, short type, off_t byte, struct flock *out)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
	if (fcntl(fd, cmd, &fl) < 0)
		return -errno;
	if (out)
		*out = fl;
	return 0;
}

int lock_try(int fd, off_t byte)
{
	int rc = ofd(fd, F_OFD_SETLK, F_WRLCK, byte, NULL);
	return rc == -EACCES ? -EAGAIN : rc;
}

void lock_drop(int fd, off_t byte)
{
	ofd(fd, F_OFD_SETLK, F_UNLCK, byte, NULL);
}

int lock_held(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_UNLCK };
	int rc = ofd(fd, F_OFD_GETLK, F_WRLCK, byte, &fl);
	if (rc < 0)
		return rc;
	return fl.l_type != F_UNLCK;
}

/* ---- addresses ---------------------------------------------------------- */

static int name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > SHMQ_NAME_MAX || !strcmp(n, ".") || !strcmp(n, ".."))
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

int seg_address(struct seg *sg, const shmq_config *cfg)
{
	*sg = (struct seg){ .shmid = -1, .lock_fd = -1 };
	if (cfg->name) {
		const char *n = cfg->name[0] == '/' ? cfg->name + 1 : cfg->name;
		if (!name_ok(n))
			return -EINVAL;
		sg->backend = SEG_POSIX;
		snprintf(sg->name, sizeof(sg->name), "/%s", n);
		snprintf(sg->path, sizeof(sg->path), SHM_DIR "/%s", n);
	} else {
		if (cfg->key == IPC_PRIVATE)
			return -EINVAL;
		sg->backend = SEG_SYSV;
		sg->key = cfg->key;
		snprintf(sg->path, sizeof(sg->path), SHM_DIR "/shmq.sysv.0x%08x.lock",
			 (unsigned)cfg->key);
	}
	return 0;
}

/* ---- ownership and permissions ------------------------------------------ */

/* Is an existing object with this owner and mode safe to use for `asked`?
 * Never looser than asked; owned by us unless sharing was asked for. */
static int perm_ok(uid_t owner, unsigned perm, unsigned asked, int must_own)
{
	if ((perm & 0777u & ~asked) != 0)
		return 0;
	if (owner == geteuid())
		return 1;
	return !must_own && (asked & 077u);
}

static int fd_perm_ok(int fd, unsigned asked, int must_own)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || !perm_ok(st.st_uid, st.st_mode, asked, must_own))
		return -EACCES;
	return 0;
}

static int same_file(int fd, const char *path)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0 || lstat(path, &b) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The System V id a server wrote into its lock file, or -1. */
static int read_shmid(int fd)
{
	char buf[32] = { 0 };
	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end != '\n' && *end != '\0') || v < 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

/* ---- header validation -------------------------------------------------- */

int seg_validate(const void *base, size_t size, struct geometry *g)
{
	if (size < layout_slots_offset())
		return -EPROTO;
	const struct seg_header *h = base;
	/* Pairs with the server's store_release of magic in server_init: the
	 * fields below were written before it. */
	if (load_acquire(&h->magic) != SHMQ_MAGIC)
		return -EPROTO;
	/* Each field is read once, into g, and only g is used afterwards. */
	uint32_t major = *(const volatile uint32_t *)&h->layout_major;
	if (major != SHMQ_LAYOUT_MAJOR)
		return -EPROTONOSUPPORT;
	g->slots = *(const volatile uint32_t *)&h->slot_count;
	g->ring_size = *(const volatile uint32_t *)&h->ring_size;
	g->slots_offset = *(const volatile uint64_t *)&h->slots_offset;
	g->slot_stride = *(const volatile uint64_t *)&h->slot_stride;
	g->total = *(const volatile uint64_t *)&h->total_size;
	uint32_t r = g->ring_size;
	if (g->slots == 0 || g->slots > SHMQ_MAX_SLOTS || r < SHMQ_MIN_RING_SIZE ||
	    r > SHMQ_MAX_RING_SIZE || (r & (r - 1)) != 0)
		return -EPROTO;
	if (g->slots_offset != layout_slots_offset() ||
	    g->slot_stride != layout_slot_stride(r) ||
	    g->total != layout_total(g->slots, r) || g->total > size)
		return -EPROTO;
	return 0;
}

/* ---- server side -------------------------------------------------------- */

/* Take the lock file at sg->path as server: create it, or take over a stale
 * one (whose path we unlink while holding its lock). Returns the locked fd.
 * *old_shmid receives the System V id recorded in a stale lock file. */
static int acquire(struct seg *sg, unsigned mode, int *old_shmid)
{
	*old_shmid = -1;
	for (int tries = 0; tries < 16; tries++) {
		int fd = open(sg->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      mode & 0777u);
		if (fd >= 0) {
			/* The umask must not narrow what was asked (0660). */
			if (fchmod(fd, mode & 0777u) < 0 || lock_try(fd, 0) < 0) {
				/* Another server opened our fresh file and won. */
				close(fd);
				return -EADDRINUSE;
			}
			if (!same_file(fd, sg->path)) {
				close(fd);
				continue;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -errno;

		fd = open(sg->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile: try to create again */
			return errno == ELOOP ? -EACCES : -errno;
		}
		int rc = fd_perm_ok(fd, mode, 1);
		if (rc == 0) {
			rc = lock_try(fd, 0);
			if (rc == -EAGAIN)
				rc = -EADDRINUSE; /* its server is alive */
		}
		if (rc < 0) {
			close(fd);
			return rc;
		}
		if (!same_file(fd, sg->path)) {
			close(fd);
			continue;
		}
		/* Stale: its server died. Remember the segment it recorded, then
		 * unlink it while we hold its lock, and create a fresh one. */
		if (sg->backend == SEG_SYSV)
			*old_shmid = read_shmid(fd);
		unlink(sg->path);
		close(fd);
	}
	return -EAGAIN;
}

static int sysv_header_is_shmq(int id)
{
	void *p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return 0;
	struct shmid_ds ds;
	int ok = shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz >= sizeof(uint64_t) &&
		 load_acquire(&((const struct seg_header *)p)->magic) == SHMQ_MAGIC;
	shmdt(p);
	return ok;
}

static int sysv_create(struct seg *sg, size_t size, unsigned mode, int old_shmid)
{
	int id = shmget(sg->key, 0, 0);
	if (id >= 0) {
		/* Our lock is held, so no live shmq server owns this segment.
		 * Reclaim it only if it is ours and shmq's; otherwise someone
		 * else's data (or a squatter's trap) is there: refuse. */
		struct shmid_ds ds;
		if (shmctl(id, IPC_STAT, &ds) < 0)
			return -errno;
		if (ds.shm_perm.uid != geteuid() || ds.shm_perm.cuid != geteuid())
			return -EEXIST;
		if (id != old_shmid && !sysv_header_is_shmq(id))
			return -EEXIST;
		if (shmctl(id, IPC_RMID, NULL) < 0)
			return -errno;
	} else if (errno != ENOENT) {
		return errno == EACCES ? -EEXIST : -errno;
	}

	id = shmget(sg->key, size, IPC_CREAT | IPC_EXCL | (int)(mode & 0777u));
	if (id < 0) {
		/* EINVAL: larger than kernel.shmmax; ENOSPC: kernel.shmmni or
		 * shmall reached. Name them apart for the caller. */
		if (errno == EINVAL)
			return -EFBIG;
		return -errno;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", id);
	if (ftruncate(sg->lock_fd, 0) < 0 || pwrite(sg->lock_fd, buf, (size_t)n, 0) != n) {
		int rc = -errno;
		shmctl(id, IPC_RMID, NULL);
		return rc;
	}
	void *p = shmat(id, NULL, 0);
	if (p == (void *)-1) {
		int rc = -errno;
		shmctl(id, IPC_RMID, NULL);
		return rc;
	}
	sg->shmid = id;
	sg->base = p;
	return 0;
}

static int posix_create(struct seg *sg, size_t size)
{
	if (ftruncate(sg->lock_fd, (off_t)size) < 0)
		return -errno;
	/* Reserve the pages now: a full /dev/shm is ENOSPC here, not SIGBUS
	 * in the middle of a send. */
	int rc = posix_fallocate(sg->lock_fd, 0, (off_t)size);
	if (rc)
		return -rc;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       sg->lock_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	sg->base = p;
	return 0;
}

int seg_create(struct seg *sg, size_t size, unsigned mode)
{
	int old_shmid;
	int fd = acquire(sg, mode, &old_shmid);
	if (fd < 0)
		return fd;
	sg->lock_fd = fd;
	sg->size = size;
	int rc = sg->backend == SEG_SYSV ? sysv_create(sg, size, mode, old_shmid)
					 : posix_create(sg, size);
	if (rc < 0) {
		unlink(sg->path); /* we hold the lock: the path is ours */
		close(fd);
		sg->lock_fd = -1;
		return rc;
	}
	return 0;
}

void seg_destroy(struct seg *sg)
{
	if (sg->backend == SEG_SYSV && sg->shmid >= 0)
		shmctl(sg->shmid, IPC_RMID, NULL);
	if (sg->lock_fd >= 0)
		unlink(sg->path); /* while we still hold the lock */
	seg_detach(sg);
}

/* ---- client side -------------------------------------------------------- */

static int sysv_attach(struct seg *sg, unsigned mode, int readonly)
{
	int fd = open(sg->path, (readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return shmget(sg->key, 0, 0) >= 0 ? -EPROTO : -ENOENT;
		return errno == ELOOP ? -EACCES : -errno;
	}
	sg->lock_fd = fd;
	int rc = fd_perm_ok(fd, mode, 0);
	if (rc < 0)
		return rc;
	int recorded = read_shmid(fd);
	int id = shmget(sg->key, 0, 0);
	if (id < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (id != recorded)
		return lock_held(fd, 0) == 1 ? -EAGAIN : -ECONNREFUSED;
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	if (!perm_ok(ds.shm_perm.uid, ds.shm_perm.mode, mode, 0) ||
	    ds.shm_perm.uid != ds.shm_perm.cuid)
		return -EACCES;
	void *p = shmat(id, NULL, readonly ? SHM_RDONLY : 0);
	if (p == (void *)-1)
		return -errno;
	sg->shmid = id;
	sg->base = p;
	sg->size = ds.shm_segsz;
	return 0;
}

static int posix_attach(struct seg *sg, unsigned mode, int readonly)
{
	int fd = open(sg->path, (readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EACCES : -errno;
	sg->lock_fd = fd;
	int rc = fd_perm_ok(fd, mode, 0);
	if (rc < 0)
		return rc;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < (off_t)layout_slots_offset())
		return -EPROTO;
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | (readonly ? 0 : PROT_WRITE),
		       MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	sg->base = p;
	sg->size = (size_t)st.st_size;
	return 0;
}

int seg_attach(struct seg *sg, unsigned mode, int readonly)
{
	int rc = sg->backend == SEG_SYSV ? sysv_attach(sg, mode, readonly)
					 : posix_attach(sg, mode, readonly);
	if (rc < 0)
		seg_detach(sg);
	return rc;
}

void seg_detach(struct seg *sg)
{
	if (sg->base) {
		if (sg->backend == SEG_SYSV)
			shmdt(sg->base);
		else
			munmap(sg->base, sg->size);
		sg->base = NULL;
	}
	if (sg->lock_fd >= 0) {
		close(sg->lock_fd);
		sg->lock_fd = -1;
	}
}

/* ---- removal by hand ---------------------------------------------------- */

int seg_remove(struct seg *sg, unsigned flags)
{
	int force = flags & SHMQ_REMOVE_FORCE;
	int fd = open(sg->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	int found = 0;
	if (fd >= 0) {
		int rc = lock_try(fd, 0);
		if (rc == -EAGAIN && !force) {
			close(fd);
			return -EADDRINUSE;
		}
		if (rc < 0 && rc != -EAGAIN) {
			close(fd);
			return rc;
		}
		if (sg->backend == SEG_POSIX && !force) {
			struct geometry g;
			struct stat st;
			void *p = MAP_FAILED;
			if (fstat(fd, &st) == 0 && st.st_size >= (off_t)layout_slots_offset())
				p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
			int ours = p != MAP_FAILED && seg_validate(p, (size_t)st.st_size, &g) == 0;
			if (p != MAP_FAILED)
				munmap(p, (size_t)st.st_size);
			if (!ours) {
				close(fd);
				return -EEXIST;
			}
		}
		if (sg->backend == SEG_SYSV) {
			int id = shmget(sg->key, 0, 0);
			if (id >= 0 && shmctl(id, IPC_RMID, NULL) < 0) {
				int e = -errno;
				close(fd);
				return e;
			}
		}
		unlink(sg->path);
		close(fd);
		return 0;
	}
	if (errno != ENOENT)
		return errno == ELOOP ? -EACCES : -errno;
	if (sg->backend == SEG_SYSV) {
		int id = shmget(sg->key, 0, 0);
		if (id >= 0) {
			found = 1;
			if (!force && !sysv_header_is_shmq(id))
				return -EEXIST;
			if (shmctl(id, IPC_RMID, NULL) < 0)
				return -errno;
		}
	}
	return found ? 0 : -ENOENT;
}
