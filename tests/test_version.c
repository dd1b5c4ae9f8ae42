/* SPDX-License-Identifier: MIT */
/*
 * Layout versions and ABI room, on both backends:
 *  - a segment of another layout major version (0.1's is 1) is refused by a
 *    client with -EPROTONOSUPPORT, and shmq_inspect and shmq_list name its
 *    version and whether its server lives;
 *  - so is one with a features_incompat bit this version does not know, and
 *    one whose region table does not describe the slots;
 *  - a stale endpoint of another version is reclaimed by a new server, a
 *    live one is not (-EADDRINUSE);
 *  - the public structs callers allocate keep their sizes (reserved room is
 *    where later fields go), so an ABI change cannot slip in unnoticed.
 */
#include "harness.h"
#include "proc.h"

#include "internal.h"

#define IO_MS 5000

/* Map the endpoint's segment read-write, as any process that may attach
 * could; the test scribbles on it like a peer of another version. */
static struct seg raw_open(const shmq_config *cfg)
{
	struct seg sg;
	CHECK_EQ(seg_address(&sg, cfg), 0);
	CHECK_EQ(seg_attach(&sg, 0600, 0), 0);
	return sg;
}

static int try_connect(const shmq_config *cfg)
{
	shmq_client *c;
	int rc = shmq_client_connect(&c, cfg);
	if (rc == 0)
		shmq_client_close(c);
	return rc;
}

static int listed(const shmq_config *cfg, shmq_endpoint_info *found)
{
	static shmq_endpoint_info all[256];
	int n = shmq_list(all, 256);
	CHECK(n >= 0);
	for (int i = 0; i < n && i < 256; i++) {
		int same = cfg->name ? strcmp(all[i].name + 1, cfg->name) == 0
				     : !all[i].name[0] && all[i].key == cfg->key;
		if (same) {
			*found = all[i];
			return 1;
		}
	}
	return 0;
}

static void test_refused(int posix)
{
	shmq_config cfg = test_config(0, posix);
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	own_srv = s;
	struct seg sg = raw_open(&cfg);
	struct seg_header *h = sg.base;
	shmq_endpoint_info info;

	CHECK_EQ(shmq_inspect(&cfg, &info, NULL, 0), (int)cfg.slots);
	CHECK_EQ(info.layout_major, SHMQ_LAYOUT_MAJOR);
	CHECK_EQ(info.layout_minor, SHMQ_LAYOUT_MINOR);
	CHECK_EQ(info.state, 1);
	CHECK(info.features & SEG_FI_REQUEST_IDS);

	/* What a 0.1 server's segment says: layout 1.0. */
	h->layout_major = 1;
	CHECK_EQ(try_connect(&cfg), -EPROTONOSUPPORT);
	memset(&info, 0xff, sizeof(info));
	CHECK_EQ(shmq_inspect(&cfg, &info, NULL, 0), -EPROTONOSUPPORT);
	CHECK_EQ(info.layout_major, 1);
	CHECK_EQ(info.layout_minor, 0);
	CHECK_EQ(info.live, 1);
	CHECK(posix ? strcmp(info.name + 1, cfg.name) == 0 : info.key == cfg.key);
	shmq_endpoint_info l;
	CHECK(listed(&cfg, &l));
	CHECK_EQ(l.layout_major, 1);
	/* A live server of another version keeps its key. */
	shmq_server *s2;
	CHECK_EQ(shmq_server_create(&s2, &cfg), -EADDRINUSE);
	h->layout_major = SHMQ_LAYOUT_MAJOR;
	CHECK_EQ(try_connect(&cfg), 0);

	/* A later minor is fine; an unknown incompatible feature is not. */
	h->layout_minor = SHMQ_LAYOUT_MINOR + 7;
	CHECK_EQ(try_connect(&cfg), 0);
	h->layout_minor = SHMQ_LAYOUT_MINOR;
	uint64_t fi = h->features_incompat;
	h->features_incompat = fi | (1ull << 40);
	CHECK_EQ(try_connect(&cfg), -EPROTONOSUPPORT);
	h->features_incompat = fi;
	h->features_compat = 1ull << 5; /* compatible: ignored */
	CHECK_EQ(try_connect(&cfg), 0);

	/* The region table must describe the slots it claims. */
	struct seg_region r0 = h->regions[0];
	uint32_t nreg = h->region_count;
	h->regions[0].type = REGION_NONE;
	CHECK_EQ(try_connect(&cfg), -EPROTO); /* a live server, its header complete */
	h->regions[0] = r0;
	h->regions[0].stride += SHMQ_PAGE;
	CHECK_EQ(try_connect(&cfg), -EPROTO);
	h->regions[0] = r0;
	h->region_count = SEG_MAX_REGIONS + 1;
	CHECK_EQ(try_connect(&cfg), -EPROTO);
	h->region_count = nreg;
	CHECK_EQ(try_connect(&cfg), 0);

	seg_detach(&sg);
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing_left(&cfg);
	printf("%s: layout 1.0 refused (-EPROTONOSUPPORT, inspect and list name 1.0, live), "
	       "unknown incompatible feature refused, later minor accepted\n",
	       posix ? "posix" : "sysv");
}

/* A server of another version died: its endpoint is reclaimed. */
static void test_reclaim(int posix)
{
	shmq_config cfg = test_config(1, posix);
	struct chan ch = chan_new();
	pid_t kid = fork_kid(30);
	if (kid == 0) {
		shmq_server *s;
		CHECK_EQ(shmq_server_create(&s, &cfg), 0);
		struct seg sg = raw_open(&cfg);
		((struct seg_header *)sg.base)->layout_major = 1;
		chan_send(ch, "r", 1);
		pause();
		_exit(1);
	}
	char r;
	chan_recv(ch, &r, 1, IO_MS);
	CHECK(kill(kid, SIGKILL) == 0);
	reap_killed(kid);
	shmq_endpoint_info info;
	CHECK_EQ(shmq_inspect(&cfg, &info, NULL, 0), -EPROTONOSUPPORT);
	CHECK_EQ(info.live, 0);
	CHECK_EQ(try_connect(&cfg), -EPROTONOSUPPORT);
	shmq_server *s;
	CHECK_EQ(shmq_server_create(&s, &cfg), 0);
	own_srv = s;
	CHECK_EQ(try_connect(&cfg), 0);
	own_srv = NULL;
	CHECK_EQ(shmq_server_close(s), 0);
	check_nothing_left(&cfg);
	chan_close(&ch);
	printf("%s: a dead layout-1 server's endpoint reclaimed by a layout-2 server\n",
	       posix ? "posix" : "sysv");
}

int main(void)
{
	setup(60);
	/* x86_64 and other LP64 targets: a change here is an ABI change (use
	 * the reserved_ room instead, or bump SHMQ_ABI in CMakeLists.txt). */
	if (sizeof(void *) == 8) {
		CHECK_EQ(sizeof(shmq_config), 104);
		CHECK_EQ(sizeof(shmq_msg), 56);
		CHECK_EQ(sizeof(shmq_client_info), 80);
		CHECK_EQ(sizeof(shmq_client_stats), 64);
		CHECK_EQ(sizeof(shmq_endpoint_info), 320);
		CHECK_EQ(sizeof(shmq_slot_info), 128);
	}
	for (int posix = 0; posix <= 1; posix++)
		for (int n = 0; n < 2; n++) {
			shmq_config cfg = test_config(n, posix);
			ep_track(&cfg);
		}
	for (int posix = 0; posix <= 1; posix++) {
		test_refused(posix);
		test_reclaim(posix);
	}
	return 0;
}
