/* SPDX-License-Identifier: MIT */
/* Read-only views of endpoints for shmq stat, and removal for shmq rm. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "atomics.h"
#include "internal.h"
#include "shmq.h"

static void fill_slot(const struct seg *sg, const struct geometry *g, uint32_t i,
		      shmq_slot_info *out)
{
	struct slot_ctl *c = slot_ctl(sg->base, g, i);
	uint32_t st = load_acquire(&c->state);
	uint64_t rq_p = load_acquire(&c->req.prod), rq_c = load_acquire(&c->req.cons);
	uint64_t rp_p = load_acquire(&c->rep.prod), rp_c = load_acquire(&c->rep.cons);
	*out = (shmq_slot_info){
		.slot = i,
		.gen = load_relaxed(&c->gen),
		.state = st == SLOT_FREE ? 0 : st == SLOT_CONNECTED ? 1 : 2,
		.pid = load_relaxed(&c->pid),
		.uid = load_relaxed(&c->uid),
		.alive = lock_held(sg->lock_fd, slot_lock_byte(i)) == 1,
		.req_bytes = rq_p,
		.req_depth = rq_p - rq_c <= g->ring_size ? rq_p - rq_c : 0,
		.rep_bytes = rp_p,
		.rep_depth = rp_p - rp_c <= g->ring_size ? rp_p - rp_c : 0,
		.msgs_in = load_relaxed(&c->msgs_in),
		.msgs_out = load_relaxed(&c->msgs_out),
		.late_replies = load_relaxed(&c->late_replies),
	};
}

int shmq_inspect(const shmq_config *cfg, shmq_endpoint_info *info, shmq_slot_info *slots,
		 size_t n)
{
	if (!cfg || !info || (!slots && n))
		return -EINVAL;
	struct seg sg;
	int rc = seg_address(&sg, cfg);
	if (rc < 0)
		return rc;
	/* Any mode: we only read, and we only report. */
	if ((rc = seg_attach(&sg, 0777u, 1)) < 0)
		return rc;
	const struct seg_header *h = sg.base;
	struct stat st;
	memset(info, 0, sizeof(*info));
	info->key = sg.backend == SEG_SYSV ? sg.key : 0;
	if (sg.backend == SEG_POSIX)
		snprintf(info->name, sizeof(info->name), "%s", sg.name);
	uint32_t major = 0, minor = 0;
	struct geometry g = { 0 };
	if ((rc = seg_version(sg.base, sg.size, &major, &minor)) == 0)
		rc = seg_validate(sg.base, sg.size, &g);
	info->layout_major = major;
	info->layout_minor = minor;
	if (rc < 0) {
		/* Another layout: say which, and whether its server lives. */
		if (rc == -EPROTONOSUPPORT)
			info->live = lock_held(sg.lock_fd, 0) == 1;
		seg_detach(&sg);
		return rc;
	}
	uint32_t state = load_acquire(&h->state);
	info->state = state <= EP_CLOSED ? state : EP_CLOSED;
	info->features = *(const volatile uint64_t *)&h->features_incompat;
	info->live = state == EP_READY || state == EP_DRAINING;
	info->live = info->live && lock_held(sg.lock_fd, 0) == 1;
	info->server_pid = *(const volatile int32_t *)&h->server_pid;
	info->server_uid = *(const volatile uint32_t *)&h->server_uid;
	info->mode = fstat(sg.lock_fd, &st) == 0 ? (st.st_mode & 0777u) : 0;
	info->size = sg.size;
	info->slots = g.slots;
	info->ring_size = g.ring_size;
	for (uint32_t i = 0; i < g.slots; i++) {
		shmq_slot_info si;
		fill_slot(&sg, &g, i, &si);
		if (si.state != 0)
			info->clients++;
		if (i < n)
			slots[i] = si;
	}
	seg_detach(&sg);
	return (int)g.slots;
}

static void add(shmq_endpoint_info *out, size_t n, int *count, const shmq_config *cfg)
{
	shmq_endpoint_info info;
	int rc = shmq_inspect(cfg, &info, NULL, 0);
	if (rc < 0 && rc != -EPROTONOSUPPORT) /* other layouts are listed too */
		return;
	if ((size_t)*count < n)
		out[*count] = info;
	(*count)++;
}

/* "shmq.sysv.0x000004d2.lock" -> 1234 */
static int sysv_lock_key(const char *name, int *key)
{
	static const char pre[] = "shmq.sysv.0x", suf[] = ".lock";
	if (strncmp(name, pre, sizeof(pre) - 1) != 0)
		return 0;
	const char *hex = name + sizeof(pre) - 1;
	char *end;
	errno = 0;
	unsigned long v = strtoul(hex, &end, 16);
	if (errno || end - hex != 8 || strcmp(end, suf) != 0)
		return 0;
	*key = (int)(unsigned)v;
	return 1;
}

int shmq_list(shmq_endpoint_info *out, size_t n)
{
	if (!out && n)
		return -EINVAL;
	int count = 0;
	DIR *d = seg_opendir();
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		shmq_config cfg;
		shmq_config_init(&cfg);
		int key;
		if (sysv_lock_key(e->d_name, &key)) {
			cfg.key = key;
		} else if (e->d_name[0] != '.' && e->d_type == DT_REG) {
			cfg.name = e->d_name;
		} else {
			continue;
		}
		add(out, n, &count, &cfg);
	}
	closedir(d);
	return count;
}

int shmq_remove(const shmq_config *cfg, unsigned flags)
{
	if (!cfg || (flags & ~SHMQ_REMOVE_FORCE))
		return -EINVAL;
	struct seg sg;
	int rc = seg_address(&sg, cfg);
	if (rc < 0)
		return rc;
	return seg_remove(&sg, flags);
}
