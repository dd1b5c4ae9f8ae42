// SPDX-License-Identifier: MIT
// The public header from C++: it must compile cleanly and link (extern "C").
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <shmq.h>

int main()
{
	shmq_config cfg;
	shmq_config_init(&cfg);
	if (cfg.key != SHMQ_DEFAULT_KEY || cfg.mode != SHMQ_DEFAULT_MODE ||
	    cfg.slots != SHMQ_DEFAULT_SLOTS || cfg.name != nullptr) {
		std::fprintf(stderr, "consumer++: unexpected defaults\n");
		return 1;
	}
	const char *e = shmq_strerror(-ENOENT);
	if (!e || !*e || std::strcmp(e, shmq_strerror(ENOENT)) != 0) {
		std::fprintf(stderr, "consumer++: shmq_strerror\n");
		return 1;
	}
	std::printf("consumer++: shmq %s, key %d: %s\n", shmq_version(), cfg.key, e);
	return 0;
}
