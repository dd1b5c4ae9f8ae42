/* SPDX-License-Identifier: MIT */
/*
 * Segments: where the bytes live (System V or POSIX), who may use them, and
 * whether their owners are alive.
 *
 * Liveness uses open-file-description locks (F_OFD_SETLK), which the kernel
 * drops when the owner dies, whatever its pid or namespace. The lock file is
 * the segment's own file for the POSIX backend and a small file beside the key
 * (/dev/shm/shmq.sysv.0x<key>.lock) for System V. Byte 0 is the server's;
 * byte 1 + i belongs to the client in slot i.
 *
 * A lock file is unlinked only by a process holding its byte-0 lock, and a
 * process that takes the lock checks that the path still names the file it
 * locked. So among shmq processes exactly one server owns a key or name.
 */
#ifndef SHMQ_SEGMENT_H
#define SHMQ_SEGMENT_H

#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shmq.h"

#define SHM_DIR "/dev/shm"

enum { SEG_SYSV = 1, SEG_POSIX = 2 };

struct seg {
	int backend;
	int key;
	char name[SHMQ_NAME_MAX + 2]; /* POSIX: "/name" */
	char path[sizeof(SHM_DIR) + SHMQ_NAME_MAX + 32]; /* lock file path */
	int shmid;   /* System V */
	int lock_fd; /* POSIX: the segment's fd */
	void *base;
	size_t size;
	int published; /* the name exists (POSIX segments are named last) */
	int ready;     /* attach: the server had published its header */
	uid_t trusted_uid; /* attach: an owner trusted besides us (cfg) */
};

/* Fill sg's address from cfg, validating the key or name. */
int seg_address(struct seg *sg, const shmq_config *cfg);

/* Server: create exclusively, reclaiming a stale endpoint; lock byte 0. */
int seg_create(struct seg *sg, size_t size, unsigned mode);
/* Server: once its header is written, give a POSIX segment its name, or mark
 * a System V lock file's record ready. Clients then take an invalid header
 * for corruption, not for a server still starting. */
int seg_publish(struct seg *sg);
/* Server: remove the endpoint and release everything. */
void seg_destroy(struct seg *sg);

/* Client or inspector: attach to an existing endpoint, refusing one whose
 * ownership or permissions are not safe for `mode`. A client (read-write)
 * accepts an endpoint owned by its euid, by sg->trusted_uid, or, when mode
 * shares with group or others, by root. An inspector (readonly) accepts any
 * owner: it only reads and reports. Both refuse anything but a regular file
 * with one link. */
int seg_attach(struct seg *sg, unsigned mode, int readonly);
void seg_detach(struct seg *sg);
/* After seg_attach, the header failed validation: why? -EAGAIN if its
 * server is alive and still writing it, -EPROTO if its server is alive and
 * had published it (so it is corrupt), -ECONNREFUSED if the server is gone. */
int seg_invalid_header(const struct seg *sg);

/* The SHM_DIR directory, for listing, opened as every fd of the library is:
 * close-on-exec and above standard input, output and error. */
DIR *seg_opendir(void);

/* Remove by hand (shmq rm). */
int seg_remove(struct seg *sg, unsigned flags);

/* Validate a mapped header against the mapping's size. On success fills the
 * private geometry. */
struct geometry {
	uint32_t slots;
	uint32_t ring_size;
	uint64_t slots_offset;
	uint64_t slot_stride;
	uint64_t total;
};
int seg_validate(const void *base, size_t size, struct geometry *g);
/* The layout version of a mapped shmq segment of any version: 0, or -EPROTO
 * if it is not one (yet). Reclaiming and shmq stat use it. */
int seg_version(const void *base, size_t size, uint32_t *major, uint32_t *minor);

/* OFD locks on single bytes of fd. */
int lock_try(int fd, off_t byte);   /* 0, -EAGAIN if held elsewhere */
void lock_drop(int fd, off_t byte);
int lock_held(int fd, off_t byte);  /* 1 held by another description, 0 not */

#endif
