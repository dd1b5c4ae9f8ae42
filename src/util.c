/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "shmq.h"

#define STR2(x) #x
#define STR(x) STR2(x)

void shmq_config_init(shmq_config *cfg)
{
	if (!cfg)
		return;
	*cfg = (shmq_config){
		.name = NULL,
		.key = SHMQ_DEFAULT_KEY,
		.mode = SHMQ_DEFAULT_MODE,
		.slots = SHMQ_DEFAULT_SLOTS,
		.ring_size = SHMQ_DEFAULT_RING_SIZE,
		.spin_us = SHMQ_DEFAULT_SPIN_US,
		.trusted_uid = SHMQ_UID_NONE,
	};
}

const char *shmq_version(void)
{
	return STR(SHMQ_VERSION_MAJOR) "." STR(SHMQ_VERSION_MINOR) "." STR(SHMQ_VERSION_PATCH);
}

const char *shmq_strerror(int err)
{
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	/* What these codes mean when shmq returns them; the rest as libc says. */
	switch (err) {
	case 0: return "success";
	case ENOENT: return "no such endpoint (is the server running?)";
	case EADDRINUSE: return "a live server already owns this endpoint";
	case EEXIST: return "the key or name is taken by a segment that is not a reclaimable shmq endpoint";
	case EACCES: return "permission denied, or the endpoint's owner or mode is not safe to use";
	case EUSERS: return "all client slots of the endpoint are in use";
	case EMSGSIZE: return "message too large (for the ring, or for the buffer given)";
	case EPIPE: return "the server has gone away";
	case ENOTCONN: return "the client is not connected (it left or died)";
	case ECONNRESET: return "the server disconnected this client";
	case ECONNREFUSED: return "stale endpoint: its server is dead (start a server, or shmq rm)";
	case EPROTO: return "protocol violation: the shared segment is corrupt or not a shmq endpoint";
	case EPROTONOSUPPORT: return "the endpoint was made by a shmq with another layout version";
	case ESHUTDOWN: return "the endpoint is shutting down: no new clients or messages";
	case EINPROGRESS: return "request sent, but no reply in time (abandoned: a late reply is discarded)";
	case ENOBUFS: return "too many requests outstanding, or too many messages held aside";
	case EALREADY: return "already shutting down";
	case ETIMEDOUT: return "timed out";
	case EAGAIN: return "would block";
	case EINTR: return "interrupted by a signal";
	case EBUSY: return "a view or reservation is still open on this handle";
	case EFBIG: return "segment larger than the kernel allows (sysctl kernel.shmmax)";
	case ENOSPC: return "no space for the segment (/dev/shm full, or sysctl kernel.shmmni / kernel.shmall reached)";
	case EINVAL: return "invalid argument";
	default: return strerror(err);
	}
}
