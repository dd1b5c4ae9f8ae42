/* SPDX-License-Identifier: MIT */
/*
 * A shmq client for the bridge tests, on the public API.
 *   shmq_peer request --key K|--name N -n N [--window W] [--timeout MS]
 *                     [--max-len L] [--seed X] [--empty-every K] [--ok-out F]
 *                     [--strict] [--first F] [--rate R]
 *       N pipelined requests (payload.h), W outstanding at a time, replies
 *       taken in whatever order they come and checked byte for byte. A
 *       reply that starts with the bridge's error prefix counts as failed
 *       (error); no reply within --timeout as failed (timeout). Prints one
 *       tally line; exits 1 on a corrupt or unknown reply, or with --strict
 *       on any failure. --rate: one request every 1/R s at most.
 *   shmq_peer send --key K|--name N -n N [--max-len L] [--seed X] [--first F]
 *       N one-way messages, then shmq_client_flush.
 * Exit: 0 pass, 1 fail, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmq.h"
#include "payload.h"

static int64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct {
	const char *mode, *ok_out;
	unsigned long n;
	unsigned window, empty_every;
	int timeout_ms, strict;
	size_t max_len;
	uint64_t seed;
	unsigned long first;
	unsigned long rate;
} opt = { .n = 100, .window = 32, .timeout_ms = 10000, .max_len = 4096, .seed = 1 };

struct out {
	uint64_t id;
	unsigned long i;
	int64_t deadline;
	int live;
};

static shmq_client *connect_retry(const shmq_config *cfg)
{
	shmq_client *c;
	int rc;
	int64_t end = now_ms() + 5000;
	while ((rc = shmq_client_connect(&c, cfg)) < 0 && now_ms() < end &&
	       (rc == -EAGAIN || rc == -ENOENT || rc == -ECONNREFUSED))
		nanosleep(&(struct timespec){ .tv_nsec = 10000000L }, NULL);
	if (rc < 0) {
		fprintf(stderr, "shmq_peer: connect: %s\n", shmq_strerror(rc));
		exit(1);
	}
	return c;
}

static int run_request(shmq_client *c)
{
	unsigned long n = opt.n;
	unsigned char *st = calloc(n, 1);
	struct out *w = calloc(opt.window, sizeof(*w));
	size_t cap = shmq_client_max_msg(c);
	unsigned char *buf = malloc(opt.max_len), *want = malloc(opt.max_len), *rep = malloc(cap);
	if (!st || !w || !buf || !want || !rep)
		return 1;
	struct tally t = { 0 };
	unsigned long next = 0, done = 0;
	unsigned outstanding = 0;
	int64_t t0 = now_ms();
	int64_t send_at = 0; /* --rate: paced, no catching up (see nats_peer.c) */
	while (done < n) {
		/* Fill the window. */
		for (unsigned k = 0; k < opt.window && next < n; k++) {
			if (w[k].live)
				continue;
			if (opt.rate && now_us() < send_at)
				break;
			send_at = now_us() + 1000000 / (int64_t)(opt.rate ? opt.rate : 1);
			size_t len = payload_make(buf, opt.seed, (uint32_t)(opt.first + next), opt.max_len, opt.empty_every);
			int rc = shmq_client_send_request(c, buf, len, &w[k].id, 1000);
			if (rc == -ETIMEDOUT || rc == -EAGAIN)
				break;
			if (rc < 0) {
				fprintf(stderr, "shmq_peer: send_request: %s\n", shmq_strerror(rc));
				st[next++] = ST_SENDFAIL, t.sendfail++, done++;
				continue;
			}
			w[k] = (struct out){ .id = w[k].id, .i = next, .deadline = now_ms() + opt.timeout_ms,
					     .live = 1 };
			st[next++] = ST_PENDING;
			outstanding++;
		}
		shmq_msg m;
		ssize_t r = shmq_client_recv_reply(c, SHMQ_ANY_REQUEST, rep, cap, &m,
						   opt.rate && next < n ? 1 : 50);
		if (r >= 0) {
			unsigned k;
			for (k = 0; k < opt.window && !(w[k].live && w[k].id == m.id); k++)
				;
			if (k == opt.window) {
				t.bogus++;
				continue;
			}
			unsigned long i = w[k].i;
			size_t wl = payload_make(want, opt.seed, (uint32_t)(opt.first + i), opt.max_len, opt.empty_every);
			if ((size_t)r == wl && memcmp(rep, want, wl) == 0) {
				st[i] = ST_OK, t.ok++;
			} else if (is_error_reply(rep, (size_t)r)) {
				st[i] = ST_ERROR, t.error++;
				if (t.error <= 3)
					fprintf(stderr, "shmq_peer: request %lu: error reply: %.*s\n", i,
						(int)(r - 1), (const char *)rep + 1);
			} else {
				st[i] = ST_ERROR, t.corrupt++;
				fprintf(stderr, "shmq_peer: request %lu: reply of %zd bytes differs from the "
					"%zu sent\n", i, r, wl);
			}
			w[k].live = 0;
			outstanding--;
			done++;
		} else if (r != -ETIMEDOUT && r != -EAGAIN && r != -ENOENT) {
			fprintf(stderr, "shmq_peer: recv_reply: %s\n", shmq_strerror((int)r));
			return 1;
		}
		int64_t now = now_ms();
		for (unsigned k = 0; k < opt.window; k++) {
			if (w[k].live && w[k].deadline <= now) {
				shmq_client_cancel(c, w[k].id);
				st[w[k].i] = ST_TIMEOUT, t.timeout++;
				w[k].live = 0;
				outstanding--;
				done++;
			}
		}
	}
	(void)outstanding;
	tally_print(&t, n, (long)(now_ms() - t0));
	if (opt.ok_out) {
		FILE *f = fopen(opt.ok_out, "w");
		if (!f)
			return 1;
		for (unsigned long i = 0; i < n; i++)
			if (st[i] == ST_OK && !(opt.empty_every && (opt.first + i) % opt.empty_every ==
							       opt.empty_every - 1))
				fprintf(f, "%lu\n", opt.first + i); /* the empty ones have no index */
		fclose(f);
	}
	free(st), free(w), free(buf), free(want), free(rep);
	if (t.corrupt || t.bogus)
		return 1;
	return opt.strict && t.ok != n ? 1 : 0;
}

static int run_send(shmq_client *c)
{
	unsigned char *buf = malloc(opt.max_len);
	if (!buf)
		return 1;
	for (unsigned long i = 0; i < opt.n; i++) {
		size_t len = payload_make(buf, opt.seed, (uint32_t)(opt.first + i), opt.max_len, opt.empty_every);
		int rc = shmq_client_send(c, buf, len, 5000);
		if (rc < 0) {
			fprintf(stderr, "shmq_peer: send: %s\n", shmq_strerror(rc));
			return 1;
		}
	}
	int rc = shmq_client_flush(c, 5000);
	if (rc < 0) {
		fprintf(stderr, "shmq_peer: flush: %s\n", shmq_strerror(rc));
		return 1;
	}
	printf("sent %lu\n", opt.n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: shmq_peer request|send [options]\n");
		return 2;
	}
	opt.mode = argv[1];
	shmq_config cfg;
	shmq_config_init(&cfg);
	static const struct option lo[] = {
		{ "key", 1, 0, 'k' },	  { "name", 1, 0, 'N' },      { "n", 1, 0, 'n' },
		{ "window", 1, 0, 'w' },  { "timeout", 1, 0, 't' },   { "max-len", 1, 0, 'L' },
		{ "seed", 1, 0, 'S' },	  { "empty-every", 1, 0, 'E' }, { "ok-out", 1, 0, 'o' },
		{ "strict", 0, 0, 'x' },  { "first", 1, 0, 'F' }, { "rate", 1, 0, 'R' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "k:N:n:w:t:L:S:E:o:xF:R:", lo, NULL)) != -1) {
		switch (c) {
		case 'k': cfg.key = (int)strtoul(optarg, NULL, 0); break;
		case 'N': cfg.name = optarg; break;
		case 'n': opt.n = strtoul(optarg, NULL, 0); break;
		case 'w': opt.window = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': opt.timeout_ms = atoi(optarg); break;
		case 'L': opt.max_len = strtoul(optarg, NULL, 0); break;
		case 'S': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'E': opt.empty_every = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o': opt.ok_out = optarg; break;
		case 'x': opt.strict = 1; break;
		case 'F': opt.first = strtoul(optarg, NULL, 0); break;
		case 'R': opt.rate = strtoul(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (opt.max_len < PAYLOAD_HDR || !opt.window)
		return 2;
	shmq_client *cl = connect_retry(&cfg);
	int rc = !strcmp(opt.mode, "request") ? run_request(cl) : !strcmp(opt.mode, "send") ? run_send(cl) : 2;
	fflush(stdout);
	shmq_client_close(cl);
	return rc;
}
