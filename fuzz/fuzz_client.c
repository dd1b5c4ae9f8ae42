/* SPDX-License-Identifier: MIT */
/* Fuzz target: a real client whose server has gone hostile: the fuzzer's
 * bytes overwrite the header's live fields and the client's whole slot
 * (state, indices, reply ring). The client must not crash or read out of
 * bounds; it may report errors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shmq_config cfg = fuzz_config();
	shmq_server *s;
	shmq_client *c;
	if (shmq_server_create(&s, &cfg) < 0 || shmq_client_connect(&c, &cfg) < 0)
		abort();
	size_t len;
	unsigned char *seg = fuzz_map(&len);

	/* The first byte picks how much of the header to spare: the client
	 * copied the geometry at connect, so even a clobbered magic must not
	 * matter now. */
	size_t from = size && (data[0] & 1) ? 0 : offsetof(struct seg_header, state);
	size_t slot = layout_slots_offset() +
		      (size_t)shmq_client_self(c).slot * layout_slot_stride(FUZZ_RING);
	size_t n = size < layout_slots_offset() - from ? size : layout_slots_offset() - from;
	memcpy(seg + from, data, n);
	data += n;
	size -= n;
	n = size < len - slot ? size : len - slot;
	memcpy(seg + slot, data, n);

	for (int i = 0; i < 64; i++) {
		shmq_msg m;
		if (shmq_client_recv_view(c, &m, 0) < 0)
			break;
		touch(m.data, m.len);
		shmq_client_release(c, &m);
	}
	char buf[FUZZ_RING];
	shmq_client_send(c, "x", 1, 0);
	shmq_client_request(c, "y", 1, buf, sizeof(buf), 0);
	shmq_client_check(c);
	shmq_client_close(c);
	munmap(seg, len);
	shmq_server_close(s);
	return 0;
}
