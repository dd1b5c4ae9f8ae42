/* SPDX-License-Identifier: MIT */
/*
 * shmq bridge export: a NATS subject served by the local shmq server.
 *
 * One thread. It takes NATS messages from a synchronous subscription (libnats
 * queues them, up to its pending limits), sends each to the shmq server as a
 * request (or one-way, without a reply subject), and publishes each shmq
 * reply to the reply subject of the request it answers; the pending table
 * maps shmq request ids to reply subjects.
 *
 * Waiting: with nothing outstanding the loop sleeps in the NATS subscription
 * and wakes on the next message at once. With requests outstanding it sleeps
 * in shmq for at most 1 ms at a time, so a NATS message that comes while no
 * reply does waits up to 1 ms before it is forwarded (a shmq client cannot
 * be woken by anything but its server).
 *
 * Back-pressure: when the shmq ring is full or --max-inflight requests are
 * outstanding, the loop holds the message it has and takes no more from
 * NATS; libnats queues the rest, and past its limits drops them and reports
 * a slow consumer (core NATS has no flow control). Those drops are counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

struct ex {
	const struct bridge_opts *o;
	shmq_client *c;
	natsConnection *nc;
	natsSubscription *sub;
	struct nats_events ev;
	struct ptable t;
	natsMsg *held;   /* taken from NATS, not yet accepted by shmq */
	char *buf;
	size_t max_msg;
	int fatal;       /* the shmq connection's error, once it is gone */
	int failing;     /* answer everything with an error reply */
	int sub_done;    /* the subscription is closed or drained */
	char why[128];   /* reason given in error replies once failing */
	struct {
		uint64_t nats_in, requests, replies, oneway, timeouts, shmq_errors, too_large,
			stopping, publish_failed, oneway_lost, server_msgs, abandoned, unanswered;
		int64_t dropped;
	} n;
};

static void error_reply(struct ex *x, const char *reply, const char *reason)
{
	if (bridge_nats_error_reply(x->nc, reply, reason) != NATS_OK)
		x->n.publish_failed++;
}

static void set_fatal(struct ex *x, int rc)
{
	if (x->fatal)
		return;
	x->fatal = rc;
	errorf("the shmq server at %s is gone: %s", endpoint_str(&x->o->cfg), shmq_strerror(rc));
	snprintf(x->why, sizeof(x->why), "shmq endpoint gone (%s)", shmq_strerror(rc));
}

/* Hand one NATS message to shmq. -EAGAIN: not now (keep it), else done with it. */
static int forward(struct ex *x, natsMsg *m, int tmo)
{
	const char *reply = natsMsg_GetReply(m);
	const char *data = natsMsg_GetData(m);
	int len = natsMsg_GetDataLength(m);
	if (reply && !*reply)
		reply = NULL;
	if (x->failing) {
		if (reply) {
			error_reply(x, reply, x->why);
			x->n.shmq_errors++;
		} else {
			x->n.oneway_lost++;
		}
		return 0;
	}
	if ((size_t)len > x->max_msg) {
		if (reply) {
			char why[96];
			snprintf(why, sizeof(why), "message too large for the shmq endpoint (%d > %zu bytes)",
				 len, x->max_msg);
			error_reply(x, reply, why);
			x->n.too_large++;
		} else {
			x->n.oneway_lost++;
		}
		return 0;
	}
	int rc;
	if (!reply) {
		rc = shmq_client_send(x->c, data, (size_t)len, tmo);
		if (rc == -EAGAIN || rc == -ETIMEDOUT || rc == -EINTR)
			return -EAGAIN;
		if (rc < 0) {
			set_fatal(x, rc);
			x->n.oneway_lost++;
		} else {
			x->n.oneway++;
		}
		return 0;
	}
	if (ptable_full(&x->t))
		return -EAGAIN;
	uint64_t id;
	rc = shmq_client_send_request(x->c, data, (size_t)len, &id, tmo);
	if (rc == -EAGAIN || rc == -ETIMEDOUT || rc == -ENOBUFS || rc == -EINTR)
		return -EAGAIN;
	if (rc < 0) {
		set_fatal(x, rc);
		error_reply(x, reply, x->why);
		x->n.shmq_errors++;
		return 0;
	}
	struct pend *p = ptable_add(&x->t, now_ms() + x->o->timeout_ms);
	char *r = strdup(reply);
	if (!r) { /* out of memory: let go of this one, loudly */
		shmq_client_cancel(x->c, id);
		ptable_del(&x->t, p);
		error_reply(x, reply, "out of memory in the bridge");
		x->n.shmq_errors++;
		return 0;
	}
	p->reply = r;
	ptable_set_id(&x->t, p, id);
	return 0;
}

/* Take NATS messages and forward them: the held one first (waiting up to
 * shmq_tmo ms for room), then new ones (the first waiting up to nats_tmo). */
static int pump_requests(struct ex *x, int nats_tmo, int shmq_tmo)
{
	int n = 0;
	for (int i = 0; i < 256; i++) {
		natsMsg *m = x->held;
		x->held = NULL;
		if (!m) {
			if (x->sub_done)
				break;
			natsStatus s = natsSubscription_NextMsg(&m, x->sub, n == 0 ? nats_tmo : 0);
			if (s == NATS_SLOW_CONSUMER)
				continue; /* reported by on_error; the message count is in dropped */
			if (s == NATS_INVALID_SUBSCRIPTION || s == NATS_CONNECTION_CLOSED) {
				x->sub_done = 1;
				break;
			}
			if (s != NATS_OK) {
				/* NATS_TIMEOUT: none; a draining subscription that is
				 * empty also says so, and is then no longer valid. */
				if (!natsSubscription_IsValid(x->sub))
					x->sub_done = 1;
				break;
			}
			x->n.nats_in++;
		}
		if (forward(x, m, shmq_tmo) == -EAGAIN) {
			x->held = m;
			break;
		}
		const char *reply = natsMsg_GetReply(m);
		if (reply && *reply)
			x->n.requests++; /* = replies + error_replies + unanswered, in the end */
		natsMsg_Destroy(m);
		n++;
		shmq_tmo = 0;
	}
	return n;
}

/* Publish the replies that have come (the first waiting up to tmo ms). */
static int pump_replies(struct ex *x, int tmo)
{
	int n = 0;
	if (x->fatal)
		return 0;
	for (int i = 0; i < 256; i++) {
		shmq_msg m;
		ssize_t r = shmq_client_recv_reply(x->c, SHMQ_ANY_REQUEST, x->buf, x->max_msg, &m,
						   i == 0 ? tmo : 0);
		if (r == -EAGAIN || r == -ETIMEDOUT || r == -ENOENT || r == -EINTR)
			break;
		if (r < 0) {
			set_fatal(x, (int)r);
			break;
		}
		struct pend *p = ptable_by_id(&x->t, m.id);
		if (!p)
			continue; /* cannot be: abandoned requests' replies are discarded by shmq */
		x->n.replies++;
		if (natsConnection_Publish(x->nc, p->reply, x->buf, (int)r) != NATS_OK)
			x->n.publish_failed++; /* its requester times out */
		ptable_del(&x->t, p);
		n++;
	}
	/* Messages the server sends of its own have nowhere to go: take them
	 * so they do not pile up beside the replies. */
	for (;;) {
		ssize_t r = shmq_client_recv(x->c, x->buf, x->max_msg, 0);
		if (r < 0) {
			if (r != -EAGAIN && r != -EINTR && r != -EMSGSIZE)
				set_fatal(x, (int)r);
			break;
		}
		x->n.server_msgs++;
		n++;
	}
	return n;
}

/* Fail one entry: cancel its shmq request, answer it with reason. */
static void fail_one(struct ex *x, struct pend *p, const char *reason, uint64_t *counter)
{
	if (!x->fatal)
		shmq_client_cancel(x->c, p->id);
	if (!atomic_load(&x->ev.closed)) /* else counted as unanswered */
		error_reply(x, p->reply, reason);
	(*counter)++;
	ptable_del(&x->t, p);
}

static int expire(struct ex *x)
{
	int n = 0;
	struct pend *p;
	int64_t now = now_ms();
	char why[80];
	snprintf(why, sizeof(why), "no reply from the shmq server in %d ms", x->o->timeout_ms);
	while ((p = ptable_expired(&x->t, now))) {
		fail_one(x, p, why, &x->n.timeouts);
		n++;
	}
	return n;
}

static void fail_all(struct ex *x, const char *reason, uint64_t *counter)
{
	struct pend *p;
	while ((p = ptable_oldest(&x->t)))
		fail_one(x, p, reason, counter);
}

static void note_dropped(struct ex *x)
{
	int64_t d;
	if (!x->sub_done && natsSubscription_GetDropped(x->sub, &d) == NATS_OK && d > x->n.dropped)
		x->n.dropped = d;
}

static void idle_wait(struct ex *x)
{
	int w = ptable_wait_ms(&x->t, now_ms(), 100);
	note_dropped(x);
	if (x->held && x->t.live == 0 && !x->failing)
		pump_requests(x, 0, w ? 1 : 0); /* shmq ring full: wait for room */
	else if (x->t.live > 0 && !x->fatal)
		pump_replies(x, w ? 1 : 0);
	else if (!x->sub_done && !x->held)
		pump_requests(x, w, 0);
	else
		nanosleep(&(struct timespec){ .tv_nsec = 1000000L }, NULL);
}

static int connect_shmq(struct ex *x)
{
	int64_t t0 = now_ms();
	int rc;
	/* -EAGAIN: the server is still writing its header. */
	while ((rc = shmq_client_connect(&x->c, &x->o->cfg)) == -EAGAIN && now_ms() - t0 < 1000)
		nanosleep(&(struct timespec){ .tv_nsec = 5000000L }, NULL);
	if (rc < 0) {
		errorf("cannot connect to the shmq server at %s: %s", endpoint_str(&x->o->cfg),
		       shmq_strerror(rc));
		return -1;
	}
	x->max_msg = shmq_client_max_msg(x->c);
	x->buf = malloc(x->max_msg ? x->max_msg : 1);
	return x->buf ? 0 : -1;
}

static int subscribe(struct ex *x)
{
	const struct bridge_opts *o = x->o;
	bridge_sig_block();
	natsStatus s = o->queue ? natsConnection_QueueSubscribeSync(&x->sub, x->nc, o->subject, o->queue)
				: natsConnection_SubscribeSync(&x->sub, x->nc, o->subject);
	bridge_sig_unblock();
	/* Make sure the server has the subscription before we say ready. */
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(x->nc, 5000);
	if (s != NATS_OK) {
		errorf("cannot subscribe to NATS subject '%s': %s", o->subject, natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

static void print_counters(struct ex *x)
{
	uint64_t errs = x->n.timeouts + x->n.shmq_errors + x->n.too_large + x->n.stopping;
	fprintf(stderr,
		"%s: counters: nats_in=%llu requests=%llu replies=%llu oneway=%llu "
		"error_replies=%llu (timeout=%llu shmq=%llu too_large=%llu stopping=%llu) "
		"unanswered=%llu publish_failed=%llu oneway_lost=%llu nats_dropped=%lld abandoned=%llu "
		"server_msgs=%llu disconnects=%llu reconnects=%llu\n",
		prog, (unsigned long long)x->n.nats_in, (unsigned long long)x->n.requests,
		(unsigned long long)x->n.replies, (unsigned long long)x->n.oneway,
		(unsigned long long)errs,
		(unsigned long long)x->n.timeouts, (unsigned long long)x->n.shmq_errors,
		(unsigned long long)x->n.too_large, (unsigned long long)x->n.stopping,
		(unsigned long long)x->n.unanswered, (unsigned long long)x->n.publish_failed,
		(unsigned long long)x->n.oneway_lost,
		(long long)x->n.dropped, (unsigned long long)x->n.abandoned,
		(unsigned long long)x->n.server_msgs,
		(unsigned long long)atomic_load(&x->ev.disconnects),
		(unsigned long long)atomic_load(&x->ev.reconnects));
}

/* Stop taking new NATS messages, forward what libnats has queued. */
static void drain_sub(struct ex *x)
{
	note_dropped(x);
	if (!x->sub_done && natsSubscription_Drain(x->sub) != NATS_OK)
		x->sub_done = 1;
}

/* A drain needs NATS to confirm the unsubscription; if it does not come in
 * time (NATS is away), unsubscribe at once: what libnats still holds for
 * us is then lost to its requesters, who time out, and counted here. */
static void end_sub(struct ex *x)
{
	int pending = 0;
	if (x->sub_done)
		return;
	note_dropped(x);
	if (natsSubscription_GetPending(x->sub, &pending, NULL) == NATS_OK && pending > 0)
		x->n.abandoned += (uint64_t)pending;
	natsSubscription_Unsubscribe(x->sub);
	x->sub_done = 1;
}

static int run(struct ex *x)
{
	int stopping = 0;
	int64_t stop_by = 0, drain_by = 0;
	for (;;) {
		if (atomic_load(&x->ev.closed)) {
			/* No NATS: nothing can be answered any more. */
			fail_all(x, "NATS connection closed", &x->n.unanswered);
			return 1;
		}
		if (bridge_stop && !stopping) {
			drain_sub(x);
			stopping = 1;
			stop_by = now_ms() + x->o->timeout_ms + 1000;
			/* NATS away: no drain can complete, and nothing more comes. */
			drain_by = bridge_nats_up(x->nc) ? now_ms() + 2000 : 0;
		}
		if (x->fatal && !x->failing) {
			x->failing = 1;
			fail_all(x, x->why, &x->n.shmq_errors);
			drain_sub(x);
			stopping = 1;
			stop_by = drain_by = now_ms() + 2000;
		}
		int work = pump_replies(x, 0);
		work += expire(x);
		work += pump_requests(x, 0, 0);
		if (stopping) {
			if (!x->sub_done && now_ms() >= drain_by)
				end_sub(x);
			if (x->sub_done && !x->held && x->t.live == 0)
				break;
			if (now_ms() >= stop_by) {
				if (x->held) {
					natsMsg_Destroy(x->held);
					x->held = NULL;
					x->n.oneway_lost++; /* or a request we never took: its requester times out */
				}
				fail_all(x, "bridge stopping", &x->n.stopping);
				break;
			}
		}
		if (!work)
			idle_wait(x);
	}
	if (!x->fatal) {
		/* Linger until the server has taken every one-way message. */
		int rc = shmq_client_flush(x->c, 2000);
		if (rc < 0)
			errorf("the shmq server did not take everything sent: %s", shmq_strerror(rc));
	}
	return x->fatal ? 1 : 0;
}

int bridge_export(const struct bridge_opts *o)
{
	struct ex x = { .o = o };
	int status = 1;
	if (ptable_init(&x.t, o->max_inflight, 1) < 0) {
		errorf("out of memory");
		return 1;
	}
	if (connect_shmq(&x) < 0)
		goto out;
	x.nc = bridge_nats_connect(o, &x.ev);
	if (!x.nc || subscribe(&x) < 0)
		goto out;
	char url[256] = "";
	natsConnection_GetConnectedUrl(x.nc, url, sizeof(url));
	printf("%s: %s serves NATS subject '%s'%s%s at %s: ready\n", prog, endpoint_str(&o->cfg),
	       o->subject, o->queue ? " in queue group " : "", o->queue ? o->queue : "", url);
	status = run(&x);
	bridge_nats_finish(x.nc, &x.ev);
	if (bridge_stop)
		fprintf(stderr, "%s: %s: stopped\n", prog, strsignal(bridge_stop));
	print_counters(&x);
out:
	if (x.held)
		natsMsg_Destroy(x.held);
	natsSubscription_Destroy(x.sub);
	if (x.nc)
		bridge_nats_close(x.nc);
	if (x.c)
		shmq_client_close(x.c);
	ptable_free(&x.t);
	free(x.buf);
	return status;
}
