/* SPDX-License-Identifier: MIT */
/* Fuzz target: a real server whose slot table and request rings a hostile
 * client has overwritten with the fuzzer's bytes. The server must not crash,
 * hang or read out of bounds, whatever the slots claim. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "hostile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shmq_config cfg = fuzz_config();
	shmq_server *s;
	if (shmq_server_create(&s, &cfg) < 0)
		abort();
	size_t len;
	unsigned char *seg = fuzz_map(&len);
	size_t off = layout_slots_offset();
	size_t n = size < len - off ? size : len - off;
	memcpy(seg + off, data, n);
	/* Tell the server the slots changed, as a connecting client would. */
	atomic_fetch_add(&((struct seg_header *)(void *)seg)->conn_seq, 1);

	for (int i = 0; i < 64; i++) {
		shmq_msg m;
		if (shmq_server_recv_view(s, &m, 0) < 0)
			break;
		touch(m.data, m.len);
		shmq_server_send(s, m.from, "ok", 2, 0);
		shmq_server_release(s, &m);
	}
	shmq_client_info info[FUZZ_SLOTS];
	shmq_server_clients(s, info, FUZZ_SLOTS);
	munmap(seg, len);
	shmq_server_close(s);
	return 0;
}
