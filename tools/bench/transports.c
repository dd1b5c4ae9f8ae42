/* SPDX-License-Identifier: MIT */
/* Every transport `shmq bench` knows, in the order of its tables. To add
 * one: a file defining a `const struct transport`, and a line here. */
#include "transport.h"

extern const struct transport tp_pipe, tp_fifo, tp_sysv_msg, tp_posix_mq, tp_unix_stream,
	tp_unix_dgram, tp_tcp, tp_eventfd, tp_shm_sysv_sem, tp_shm_posix_sem, tp_zmq, tp_nng,
	tp_shmq_busy, tp_shmq_adaptive, tp_shmq_block, tp_shmq_busy_zc, tp_shmq_adaptive_zc,
	tp_shmq_block_zc, tp_shmq_busy_req, tp_shmq_adaptive_req, tp_ref_cacheline, tp_ref_futex, tp_ref_memcpy, tp_ref_spsc;

const struct transport *const bench_transports[] = {
	&tp_ref_cacheline,
	&tp_ref_futex,
	&tp_ref_memcpy,
	&tp_ref_spsc,
	&tp_shmq_busy,
	&tp_shmq_busy_zc,
	&tp_shmq_adaptive,
	&tp_shmq_adaptive_zc,
	&tp_shmq_busy_req,
	&tp_shmq_adaptive_req,
	&tp_shmq_block,
	&tp_shmq_block_zc,
	&tp_shm_posix_sem,
	&tp_shm_sysv_sem,
	&tp_eventfd,
	&tp_pipe,
	&tp_fifo,
	&tp_posix_mq,
	&tp_sysv_msg,
	&tp_unix_stream,
	&tp_unix_dgram,
	&tp_tcp,
	&tp_zmq,
	&tp_nng,
};

const size_t bench_ntransports = sizeof(bench_transports) / sizeof(bench_transports[0]);
