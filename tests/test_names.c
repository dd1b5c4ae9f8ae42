/* SPDX-License-Identifier: MIT */
/*
 * The library's rule for POSIX names (issue 12, item 7): 1 to SHMQ_NAME_MAX
 * of A-Z a-z 0-9 . _ -, after an optional '/'. Refused with -EINVAL by
 * every call that takes a name: anything with a '/' inside ("../x", "a/b"),
 * 201 characters, names starting with '.' (shmq_list, like ls, skips dot
 * files, so such an endpoint was never listed) and names starting with
 * "shmq.sysv." (the lock files of System V keys: such an endpoint was
 * listed as a key). 200 characters are fine.
 */
#include "harness.h"
#include "proc.h"

static void check_refused(const char *name)
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	cfg.name = name;
	shmq_server *s;
	shmq_client *c;
	shmq_endpoint_info info;
	CHECK_EQ(shmq_server_create(&s, &cfg), -EINVAL);
	CHECK_EQ(shmq_client_connect(&c, &cfg), -EINVAL);
	CHECK_EQ(shmq_inspect(&cfg, &info, NULL, 0), -EINVAL);
	CHECK_EQ(shmq_remove(&cfg, 0), -EINVAL);
	CHECK_EQ(shmq_remove(&cfg, SHMQ_REMOVE_FORCE), -EINVAL);
}

int main(void)
{
	setup(30);
	setvbuf(stdout, NULL, _IOLBF, 0);
	char name[SHMQ_NAME_MAX + 8];
	static const char *const bad[] = {"",
					  "/",
					  "../x",
					  "a/b",
					  "/a/b",
					  ".",
					  "..",
					  ".hidden",
					  "/.hidden",
					  "shmq.sysv.0x000004d2.lock",
					  "shmq.sysv.x",
					  "a b",
					  "a\nb",
					  "caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_refused(bad[i]);
	memset(name, 'a', SHMQ_NAME_MAX + 1);
	name[SHMQ_NAME_MAX + 1] = '\0';
	check_refused(name);

	/* 200 characters, and names with a dot or "shmq" elsewhere, are fine. */
	static const char *const good[] = {"shmq.sysv", "x.shmq.sysv.y", "a.b-c_D9"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]) + 1; i++) {
		char mine[SHMQ_NAME_MAX + 1];
		if (i < sizeof(good) / sizeof(good[0])) {
			snprintf(mine, sizeof(mine), "%s-%d", good[i], (int)getpid());
		} else {
			int n = snprintf(mine, sizeof(mine), "%d-", (int)getpid());
			memset(mine + n, 'n', sizeof(mine) - (size_t)n);
		}
		mine[SHMQ_NAME_MAX] = '\0';
		CHECK(i < sizeof(good) / sizeof(good[0]) || strlen(mine) == SHMQ_NAME_MAX);
		shmq_config cfg;
		shmq_config_init(&cfg);
		cfg.name = mine;
		cfg.slots = 1;
		cfg.ring_size = 4096;
		ep_track(&cfg);
		shmq_server *s;
		CHECK_EQ(shmq_server_create(&s, &cfg), 0);
		shmq_endpoint_info info;
		CHECK(shmq_inspect(&cfg, &info, NULL, 0) == 1);
		CHECK_EQ(shmq_server_close(s), 0);
		check_nothing_left(&cfg);
	}
	printf("names: '/' inside, 201 characters, a leading '.', 'shmq.sysv.' and characters "
	       "outside A-Z a-z 0-9 . _ - are refused (-EINVAL) by create, connect, inspect and "
	       "remove; up to 200 characters pass\n");
	passed = 1;
	return 0;
}
