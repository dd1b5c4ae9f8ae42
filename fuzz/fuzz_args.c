/* SPDX-License-Identifier: MIT */
/* Fuzz target: the tool's argument parsers (numbers, sizes, keys, modes,
 * spin budgets) with arbitrary strings. They must accept exactly the values
 * in range and reject the rest with a message, never crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *s = malloc(size);
	if (!s)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	unsigned long long v;
	int key;
	unsigned mode;
	uint32_t spin;
	/* The parsers explain rejections on stderr: silence them, but only
	 * around the call, so the fuzzer's own reports still show. */
	fflush(stderr);
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
	if (saved < 0 || devnull < 0)
		abort();
	dup2(devnull, 2);
	close(devnull);
	switch (data[0] % 5) {
	case 0:
		if (parse_u64("--slots", s, 1, SHMQ_MAX_SLOTS, &v) == 0 &&
		    (v < 1 || v > SHMQ_MAX_SLOTS))
			abort();
		break;
	case 1:
		if (parse_size("--ring-size", s, &v) == 0 && v > (1ull << 40))
			abort();
		break;
	case 2:
		if (parse_key(s, &key) == 0 && key == 0)
			abort();
		break;
	case 3:
		if (parse_mode(s, &mode) == 0 && (mode > 0777 || (mode & 0600) != 0600))
			abort();
		break;
	default:
		parse_spin(s, &spin);
		break;
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	free(s);
	return 0;
}
