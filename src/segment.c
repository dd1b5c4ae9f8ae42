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

/* ---- file descriptors --------------------------------------------------- */

/* Move fd above standard input, output and error. A process started with one
 * of them closed would otherwise get our lock file or segment there, and its
 * next printf (or read of "standard input") would go to shared state. */
static int fd_above_stdio(int fd)
{
	if (fd > STDERR_FILENO)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	int err = errno;
	close(fd);
	return moved < 0 ? -err : moved;
}

/* Open a path someone else may have put there: never follow a symbolic link
 * (-EACCES), never block (a FIFO planted at the path would make a plain open
 * wait for a writer forever), never land on 0-2. The caller fstat-checks the
 * result (fd_check) before it reads, locks or maps it. -errno on failure. */
static int open_existing(const char *path, int flags)
{
	int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EACCES : -errno;
	return fd_above_stdio(fd);
}

DIR *seg_opendir(void)
{
	int fd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0)
		fd = fd_above_stdio(fd);
	else
		fd = -errno;
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = errno;
		close(fd);
		errno = err;
	}
	return d;
}

/* ---- addresses ---------------------------------------------------------- */

/* 1..SHMQ_NAME_MAX of [A-Za-z0-9._-], not starting with '.' (shmq_list, like
 * ls, skips dot files, and "." and ".." are not files), and not in the
 * namespace of System V lock files. */
static int name_ok(const char *n)
{
	static const char reserved[] = "shmq.sysv.";
	size_t len = strlen(n);
	if (len == 0 || len > SHMQ_NAME_MAX || n[0] == '.' ||
	    !strncmp(n, reserved, sizeof(reserved) - 1))
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

int seg_address(struct seg *sg, const shmq_config *cfg)
{
	*sg = (struct seg){ .shmid = -1, .lock_fd = -1, .trusted_uid = cfg->trusted_uid };
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

/* Whose objects may we use? (SECURITY.md, "Whom a client trusts")
 *  OWNER_SELF: ours only: a server taking over, shmq rm.
 *  OWNER_TRUSTED: a client: ours, the uid its caller named (trusted_uid), or
 *    root's when the caller's mode shares with group or others. Permission
 *    to open a file is not trust: root can open anything, and a group
 *    member can open any 0660 file of the group's.
 *  OWNER_ANY: an inspector, which only reads and reports. */
enum owner_rule { OWNER_SELF, OWNER_TRUSTED, OWNER_ANY };

static int owner_ok(uid_t owner, unsigned asked, enum owner_rule rule, uid_t trusted)
{
	if (rule == OWNER_ANY || owner == geteuid())
		return 1;
	if (rule == OWNER_SELF)
		return 0;
	if (trusted != SHMQ_UID_NONE && owner == trusted)
		return 1;
	return owner == 0 && (asked & 077u);
}

/* Never looser than asked. */
static int perm_ok(unsigned perm, unsigned asked)
{
	return (perm & 0777u & ~asked) == 0;
}

/* May we use the file behind fd? A regular file with one name (not a FIFO or
 * device put at our path, not a hard link to someone's file), no looser than
 * asked, with an owner the rule accepts. Fills *st. */
static int fd_check(int fd, unsigned asked, enum owner_rule rule, uid_t trusted,
		    struct stat *st)
{
	if (fstat(fd, st) < 0)
		return -errno;
	/* Unlinked since we opened it: a new server is replacing a dead one's
	 * endpoint. Not a question of trust: the caller looks again. */
	if (st->st_nlink == 0)
		return -ESTALE;
	if (!S_ISREG(st->st_mode) || st->st_nlink != 1 || !perm_ok(st->st_mode, asked) ||
	    !owner_ok(st->st_uid, asked, rule, trusted))
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

/* What a System V server writes into its lock file: "<pid> <shmid>\n", the
 * pid first (before the segment exists, shmid -1), so that a successor can
 * recognise a segment its creator left half-made; then, once the segment's
 * header is written (seg_publish), a second line "ready\n". */
struct lockinfo {
	long pid;
	int shmid;
	int ready;
};

static const char ready_line[] = "ready\n";

/* 1 for a record, 0 for an empty file, -1 for anything else. */
static int read_lockinfo(int fd, struct lockinfo *li)
{
	char buf[48] = { 0 };
	li->pid = -1;
	li->shmid = -1;
	li->ready = 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	char *end, *p = buf;
	errno = 0;
	long pid = strtol(p, &end, 10);
	if (errno || end == p || *end != ' ' || pid <= 0)
		return -1;
	p = end + 1;
	long id = strtol(p, &end, 10);
	if (errno || end == p || *end != '\n' || id < -1 || id > INT_MAX)
		return -1;
	li->pid = pid;
	li->shmid = (int)id;
	li->ready = !strcmp(end + 1, ready_line);
	return 1;
}

/* One fixed-width record, rewritten in place by a single pwrite: a reader
 * (or a successor, if we are killed) never sees it half-written or empty.
 * Marking it ready rewrites the same bytes and appends the second line. */
static int write_lockinfo(int fd, int shmid, int ready)
{
	char buf[48];
	int n = snprintf(buf, sizeof(buf), "%10ld %11d\n%s", (long)getpid(), shmid,
			 ready ? ready_line : "");
	if (pwrite(fd, buf, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

/* ---- header validation -------------------------------------------------- */

int seg_version(const void *base, size_t size, uint32_t *major, uint32_t *minor)
{
	if (size < layout_slots_offset())
		return -EPROTO;
	const struct seg_header *h = base;
	/* Pairs with the server's store_release of magic in server_init: the
	 * fields below were written before it. */
	if (load_acquire(&h->magic) != SHMQ_MAGIC)
		return -EPROTO;
	*major = *(const volatile uint32_t *)&h->layout_major;
	*minor = *(const volatile uint32_t *)&h->layout_minor;
	return 0;
}

_Static_assert(SHMQ_LAYOUT_MAJOR == SHMQ_LAYOUT, "shmq.h names the layout this is");

int seg_validate(const void *base, size_t size, struct geometry *g)
{
	uint32_t major, minor;
	int rc = seg_version(base, size, &major, &minor);
	if (rc < 0)
		return rc;
	if (major != SHMQ_LAYOUT_MAJOR)
		return -EPROTONOSUPPORT;
	const struct seg_header *h = base;
	/* Each field is read once, into locals or g, and only those are used
	 * afterwards. */
	uint64_t fi = *(const volatile uint64_t *)&h->features_incompat;
	if (fi & ~SEG_FI_KNOWN)
		return -EPROTONOSUPPORT;
	uint32_t nreg = *(const volatile uint32_t *)&h->region_count;
	if (nreg == 0 || nreg > SEG_MAX_REGIONS)
		return -EPROTO;
	/* Layout 2.0: the slots are region 0. Later minors may add regions,
	 * which this version does not need to read. */
	const volatile struct seg_region *r0 = &h->regions[0];
	if (r0->type != REGION_SLOTS)
		return -EPROTO;
	g->slots = r0->count;
	g->ring_size = r0->param;
	g->slots_offset = r0->offset;
	g->slot_stride = r0->stride;
	uint64_t region_size = r0->size;
	g->total = *(const volatile uint64_t *)&h->total_size;
	uint32_t r = g->ring_size;
	if (g->slots == 0 || g->slots > SHMQ_MAX_SLOTS || r < SHMQ_MIN_RING_SIZE ||
	    r > SHMQ_MAX_RING_SIZE || (r & (r - 1)) != 0)
		return -EPROTO;
	if (g->slots_offset != layout_slots_offset() ||
	    g->slot_stride != layout_slot_stride(r) ||
	    region_size != (uint64_t)g->slots * g->slot_stride ||
	    g->total != layout_total(g->slots, r) || g->total > size)
		return -EPROTO;
	return 0;
}

/* ---- server side -------------------------------------------------------- */

static int sysv_header_is_shmq(int id)
{
	void *p = shmat(id, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		return 0;
	struct shmid_ds ds;
	uint32_t major, minor;
	int ok = shmctl(id, IPC_STAT, &ds) == 0 && seg_version(p, ds.shm_segsz, &major, &minor) == 0;
	shmdt(p);
	return ok;
}

/* May a server reclaim the System V segment `id` found on its key, given the
 * stale lock file's record? Only if it is ours and shmq's. */
static int sysv_reclaimable(int id, const struct lockinfo *li)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return 0;
	if (ds.shm_perm.uid != geteuid() || ds.shm_perm.cuid != geteuid())
		return 0;
	return id == li->shmid || (li->pid > 0 && ds.shm_cpid == (pid_t)li->pid) ||
	       sysv_header_is_shmq(id);
}

/* Our lock is held, so no live shmq server owns the segment on our key, if
 * there is one. Remove it if it is ours and shmq's; otherwise someone else's
 * data (or a squatter's trap) is there: refuse. 0 when the key is free. */
static int sysv_clear_key(struct seg *sg, const struct lockinfo *li)
{
	int id = shmget(sg->key, 0, 0);
	if (id < 0)
		return errno == ENOENT ? 0 : errno == EACCES ? -EEXIST : -errno;
	if (!sysv_reclaimable(id, li))
		return -EEXIST;
	return shmctl(id, IPC_RMID, NULL) < 0 ? -errno : 0;
}

static int posix_is_shmq(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)layout_slots_offset())
		return 0;
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 0;
	uint32_t major, minor;
	int ok = seg_version(p, (size_t)st.st_size, &major, &minor) == 0;
	munmap(p, (size_t)st.st_size);
	return ok;
}

/* Make sg->path free for a new server. If a file is there, its server must
 * be dead (we get its byte-0 lock) and it must be ours and shmq's; then we
 * unlink it while we hold its lock. *li receives a stale System V lock
 * file's record. 0 when the path is free. */
static int take_over(struct seg *sg, unsigned mode, struct lockinfo *li)
{
	li->pid = -1;
	li->shmid = -1;
	for (int tries = 0; tries < 16; tries++) {
		int fd = open_existing(sg->path, O_RDWR);
		if (fd < 0)
			return fd == -ENOENT ? 0 : fd;
		struct stat st;
		int rc = fd_check(fd, mode, OWNER_SELF, SHMQ_UID_NONE, &st);
		if (rc == -ESTALE) {
			close(fd); /* unlinked meanwhile: look again */
			continue;
		}
		if (rc == 0) {
			rc = lock_try(fd, 0);
			if (rc == -EAGAIN)
				rc = -EADDRINUSE; /* its server is alive */
		}
		if (rc == 0 && !same_file(fd, sg->path)) {
			close(fd); /* unlinked meanwhile: look again */
			continue;
		}
		if (rc == 0 && sg->backend == SEG_POSIX && !posix_is_shmq(fd))
			rc = -EEXIST; /* someone else's file: not ours to remove */
		if (rc == 0 && sg->backend == SEG_SYSV) {
			/* Remove the dead server's segment before its lock file:
			 * the file's record is what proves a half-made segment
			 * ours, so it must outlive the segment. */
			read_lockinfo(fd, li);
			rc = sysv_clear_key(sg, li);
		}
		if (rc < 0) {
			close(fd);
			return rc;
		}
		unlink(sg->path);
		close(fd);
		return 0;
	}
	return -EAGAIN;
}

/* Create sg->path exclusively and lock it. -EADDRINUSE if someone else
 * created it first. */
static int create_locked(struct seg *sg, unsigned mode)
{
	int fd = open(sg->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777u);
	if (fd < 0)
		return errno == EEXIST ? -EADDRINUSE : errno == ELOOP ? -EACCES : -errno;
	if ((fd = fd_above_stdio(fd)) < 0) {
		unlink(sg->path); /* ours: we just created it, unlocked */
		return fd;
	}
	/* The umask must not narrow what was asked (0660). */
	if (fchmod(fd, mode & 0777u) < 0 || lock_try(fd, 0) < 0 || !same_file(fd, sg->path)) {
		/* Another server opened our fresh file and won. */
		close(fd);
		return -EADDRINUSE;
	}
	return fd;
}

static int sysv_create(struct seg *sg, size_t size, unsigned mode, const struct lockinfo *li)
{
	int rc = write_lockinfo(sg->lock_fd, -1, 0);
	if (rc < 0 || (rc = sysv_clear_key(sg, li)) < 0)
		return rc;
	int id = shmget(sg->key, size, IPC_CREAT | IPC_EXCL | (int)(mode & 0777u));
	if (id < 0) {
		/* EINVAL: larger than kernel.shmmax; ENOSPC: kernel.shmmni or
		 * shmall reached. Name them apart for the caller. */
		if (errno == EINVAL)
			return -EFBIG;
		return -errno;
	}
	void *p = (void *)-1;
	rc = write_lockinfo(sg->lock_fd, id, 0);
	if (rc == 0 && (p = shmat(id, NULL, 0)) == (void *)-1)
		rc = -errno;
	if (rc < 0) {
		shmctl(id, IPC_RMID, NULL);
		return rc;
	}
	sg->shmid = id;
	sg->base = p;
	return 0;
}

/* An unnamed file in SHM_DIR with our lock on byte 0, to be named once it
 * is ready for others (link_name). -EOPNOTSUPP where O_TMPFILE is not
 * supported. */
static int tmpfile_locked(unsigned mode)
{
	int fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 0777u);
	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? -EOPNOTSUPP
										  : -errno;
	if ((fd = fd_above_stdio(fd)) < 0)
		return fd;
	/* The umask must not narrow what was asked (0660). */
	int rc = fchmod(fd, mode & 0777u) < 0 ? -errno : lock_try(fd, 0);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Give the unnamed file fd the endpoint's name: -EADDRINUSE if taken. */
static int link_name(struct seg *sg, int fd)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, sg->path, AT_SYMLINK_FOLLOW) < 0)
		return errno == EEXIST ? -EADDRINUSE : -errno;
	sg->published = 1;
	return 0;
}

/* A new file for the endpoint, locked: unnamed, to be named once it is
 * ready for others (link_name); where O_TMPFILE is not supported, created
 * under its name at once (sg->published). */
static int new_file(struct seg *sg, unsigned mode)
{
	int fd = tmpfile_locked(mode);
	if (fd == -EOPNOTSUPP) {
		fd = create_locked(sg, mode);
		if (fd >= 0)
			sg->published = 1;
	}
	return fd;
}

/* The System V lock file is named only once it is locked and holds our
 * record: a client never finds it unlocked or empty while we live, so it
 * never takes a starting server for a stale one. (The POSIX segment is
 * named by seg_publish once the server has written the header: a server that
 * dies before then leaves nothing, and a named POSIX segment without the
 * magic is never one of ours.) */
static int sysv_open_new(struct seg *sg, unsigned mode)
{
	int fd = new_file(sg, mode);
	if (fd < 0 || sg->published)
		return fd;
	int rc = write_lockinfo(fd, -1, 0);
	if (rc == 0)
		rc = link_name(sg, fd);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
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
	sg->size = size;
	for (int tries = 0; tries < 8; tries++) {
		struct lockinfo li;
		int rc = take_over(sg, mode, &li);
		if (rc < 0)
			return rc;
		int fd = sg->backend == SEG_SYSV ? sysv_open_new(sg, mode) : new_file(sg, mode);
		if (fd == -EADDRINUSE)
			continue; /* another server was quicker: see whether it lives */
		if (fd < 0)
			return fd;
		sg->lock_fd = fd;
		if (sg->backend == SEG_SYSV) {
			sg->published = 1;
			rc = sysv_create(sg, size, mode, &li);
		} else {
			rc = posix_create(sg, size);
		}
		if (rc < 0) {
			seg_destroy(sg);
			return rc;
		}
		return 0;
	}
	return -EADDRINUSE;
}

int seg_publish(struct seg *sg)
{
	if (sg->backend == SEG_SYSV) {
		/* Pairs with the fence after the client's read of the record in
		 * sysv_attach: the magic, stored before this fence, is visible
		 * to a client that reads "ready" (written after it). */
		smp_mb();
		return write_lockinfo(sg->lock_fd, sg->shmid, 1);
	}
	return sg->published ? 0 : link_name(sg, sg->lock_fd);
}

void seg_destroy(struct seg *sg)
{
	if (sg->backend == SEG_SYSV && sg->shmid >= 0)
		shmctl(sg->shmid, IPC_RMID, NULL);
	if (sg->lock_fd >= 0 && sg->published)
		unlink(sg->path); /* while we still hold the lock */
	seg_detach(sg);
}

/* ---- client side -------------------------------------------------------- */

static int sysv_attach(struct seg *sg, unsigned mode, int readonly)
{
	int fd = open_existing(sg->path, readonly ? O_RDONLY : O_RDWR);
	if (fd < 0) {
		if (fd != -ENOENT)
			return fd;
		/* A segment but no lock file: a shmq endpoint whose server is
		 * gone (or being replaced), or something else on our key. */
		int id = shmget(sg->key, 0, 0);
		if (id < 0)
			return -ENOENT;
		return sysv_header_is_shmq(id) ? -ECONNREFUSED : -EPROTO;
	}
	sg->lock_fd = fd;
	struct stat st;
	int rc = fd_check(fd, mode, readonly ? OWNER_ANY : OWNER_TRUSTED, sg->trusted_uid, &st);
	if (rc < 0)
		return rc == -ESTALE ? -EAGAIN : rc; /* being replaced: try again */
	struct lockinfo li;
	read_lockinfo(fd, &li);
	/* Pairs with the fence in seg_publish: having read "ready", we see
	 * the header's magic (loaded after this) as the server stored it. */
	smp_mb();
	sg->ready = li.ready;
	int id = shmget(sg->key, 0, 0);
	if (id < 0) {
		if (errno != ENOENT)
			return -errno;
		/* A lock file but no segment yet: a live server is creating it. */
		return lock_held(fd, 0) == 1 ? -EAGAIN : -ENOENT;
	}
	if (id != li.shmid)
		return lock_held(fd, 0) == 1 ? -EAGAIN : -ECONNREFUSED;
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -errno;
	/* One owner for the lock file and the segment, as a server makes them. */
	if (!perm_ok(ds.shm_perm.mode, mode) || ds.shm_perm.uid != ds.shm_perm.cuid ||
	    ds.shm_perm.uid != st.st_uid)
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
	int fd = open_existing(sg->path, readonly ? O_RDONLY : O_RDWR);
	if (fd < 0)
		return fd;
	sg->lock_fd = fd;
	struct stat st;
	int rc = fd_check(fd, mode, readonly ? OWNER_ANY : OWNER_TRUSTED, sg->trusted_uid, &st);
	if (rc < 0)
		return rc == -ESTALE ? -EAGAIN : rc; /* being replaced: try again */
	if (st.st_size < (off_t)layout_slots_offset())
		return -EPROTO;
	/* Named only once its header was written (seg_publish). Where the
	 * kernel lacks O_TMPFILE the name comes first, and a client that
	 * attaches while the server starts gets -EPROTO, not -EAGAIN. */
	sg->ready = 1;
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

int seg_invalid_header(const struct seg *sg)
{
	if (lock_held(sg->lock_fd, 0) != 1)
		return -ECONNREFUSED;
	return sg->ready ? -EPROTO : -EAGAIN;
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
	int fd = open_existing(sg->path, O_RDWR);
	/* foreign: something we may not use is at the path (another user's
	 * file, a FIFO, a symbolic link): left alone unless forced, and then
	 * only unlinked, never opened for use. */
	int foreign = 0;
	if (fd < 0 && fd != -ENOENT) {
		if (!force)
			return fd;
		foreign = 1;
	}
	int rc = 0;
	struct lockinfo li = { .pid = -1, .shmid = -1 };
	if (fd >= 0) {
		struct stat st;
		rc = fd_check(fd, 0777u, OWNER_SELF, SHMQ_UID_NONE, &st);
		if (rc == -ESTALE) {
			close(fd);
			return -ENOENT; /* removed meanwhile by whoever replaced it */
		}
		if (rc < 0 && force) {
			foreign = 1;
			rc = 0;
		} else if (rc == 0) {
			rc = lock_try(fd, 0);
			if (rc == -EAGAIN)
				rc = force ? 0 : -EADDRINUSE;
			if (rc == 0 && sg->backend == SEG_POSIX && !force && !posix_is_shmq(fd))
				rc = -EEXIST;
			/* An empty lock file is a server killed before its first
			 * write; anything but a record is not ours. */
			if (rc == 0 && sg->backend == SEG_SYSV && read_lockinfo(fd, &li) < 0 &&
			    !force)
				rc = -EEXIST;
		}
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	if (sg->backend == SEG_SYSV) {
		/* The segment first, the lock file (its proof of ownership) after. */
		int id = shmget(sg->key, 0, 0);
		if (id >= 0) {
			if (!force && !sysv_reclaimable(id, &li))
				rc = -EEXIST; /* not shmq's: leave it */
			else if (shmctl(id, IPC_RMID, NULL) < 0)
				rc = -errno;
		} else if (fd < 0 && !foreign) {
			rc = errno == ENOENT ? -ENOENT : -errno;
		}
	} else if (fd < 0 && !foreign) {
		rc = -ENOENT;
	}
	if (fd >= 0 || foreign) {
		/* Ours and stale, or forced: the lock file or POSIX file goes.
		 * unlink never follows a symbolic link. */
		if (unlink(sg->path) < 0 && errno != ENOENT && rc == 0)
			rc = -errno;
		if (fd >= 0)
			close(fd);
	}
	return rc;
}
