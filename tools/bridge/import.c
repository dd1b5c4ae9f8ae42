/* SPDX-License-Identifier: MIT */
/*
 * shmq bridge import: a local shmq endpoint whose requests go to NATS.
 *
 * The main thread owns the shmq server. Each request it receives is
 * published to the subject with a reply subject of the bridge's own inbox,
 * <inbox>.<seq>, seq naming its entry in the pending table; one-way
 * messages are published plainly. libnats delivers the replies (and the
 * server's "no responders" notices) on its own thread, to on_reply, which
 * queues them for the main thread; the main thread answers each request
 * with shmq_server_reply, in whatever order the replies come.
 *
 * Waking: the main thread sleeps in shmq_server_recv, which only a shmq
 * client can end. So the bridge keeps one client of its own endpoint (the
 * "wake" client, one slot), used by on_reply alone, and on_reply sends an
 * empty one-way message with it when the main thread has said it sleeps:
 * a reply from NATS is answered at once, not at the next poll. The main
 * thread sets `sleeping` and checks the queue under the same mutex under
 * which on_reply appends and reads `sleeping`, so a reply is either seen by
 * that check or followed by a wake message: never missed.
 *
 * Back-pressure: with --max-inflight NATS requests outstanding, the main
 * thread stops receiving from shmq; clients' rings fill and their sends
 * wait, as with any busy shmq server.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

struct qnode {
	natsMsg *m;
	struct qnode *next;
};

struct im {
	const struct bridge_opts *o;
	shmq_server *s;
	natsConnection *nc;
	natsSubscription *isub;
	natsInbox *inbox;
	struct nats_events ev;
	struct ptable t;
	size_t max_msg;
	int64_t nats_max;
	int shut;       /* shmq_server_shutdown called */
	int shmq_done;  /* ... and everything sent before it received */
	int failing;
	int status;
	char why[128];

	/* Shared with on_reply, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qnode *qhead, *qtail;
	int sleeping;
	shmq_client *wake;
	shmq_client_id wake_id;

	struct {
		uint64_t requests, replies, oneway, timeouts, no_responders, nats_errors,
			too_large, failed, stopping, client_gone, reply_failed, late, oneway_lost,
			wakes;
	} n;
};

/* Static: libnats may still be running a callback when bridge_import returns. */
static struct im the_im = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	(void)nc;
	(void)sub;
	struct im *x = arg;
	struct qnode *q = malloc(sizeof(*q));
	if (!q) {
		natsMsg_Destroy(m); /* its request will time out and be answered so */
		return;
	}
	q->m = m;
	q->next = NULL;
	pthread_mutex_lock(&x->mu);
	if (x->qtail)
		x->qtail->next = q;
	else
		x->qhead = q;
	x->qtail = q;
	if (x->sleeping && x->wake) {
		x->sleeping = 0;
		/* Never blocks: a full ring means the main thread has work anyway. */
		(void)shmq_client_send(x->wake, "", 0, 0);
	}
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

static void shmq_reply(struct im *x, const shmq_msg *req, const void *data, size_t len)
{
	int rc = shmq_server_reply(x->s, req, data, len, 1000);
	if (rc == -ENOTCONN)
		x->n.client_gone++;
	else if (rc < 0)
		x->n.reply_failed++;
}

static void error_reply(struct im *x, const shmq_msg *req, const char *reason, uint64_t *counter)
{
	char buf[200];
	size_t n = bridge_error_payload(buf, sizeof(buf), reason);
	shmq_reply(x, req, buf, n);
	(*counter)++;
}

/* A request or one-way message from a local client. */
static void handle(struct im *x, const shmq_msg *m)
{
	const struct bridge_opts *o = x->o;
	natsStatus s;
	if (!(m->flags & SHMQ_MSG_REQUEST)) {
		if (x->failing || (int64_t)m->len > x->nats_max ||
		    natsConnection_Publish(x->nc, o->subject, m->data, (int)m->len) != NATS_OK)
			x->n.oneway_lost++;
		else
			x->n.oneway++;
		return;
	}
	x->n.requests++; /* = replies + error_replies, once all is done */
	if (x->failing) {
		error_reply(x, m, x->why, &x->n.failed);
		return;
	}
	if ((int64_t)m->len > x->nats_max) {
		char why[96];
		snprintf(why, sizeof(why), "message too large for NATS (%zu > %lld bytes)", m->len,
			 (long long)x->nats_max);
		error_reply(x, m, why, &x->n.too_large);
		return;
	}
	struct pend *p = ptable_add(&x->t, now_ms() + o->timeout_ms);
	p->req = *m;
	p->req.data = NULL; /* the view ends at release; from, id and flags are what reply reads */
	char subj[128];
	snprintf(subj, sizeof(subj), "%s.%" PRIu64, x->inbox, p->seq);
	s = natsConnection_PublishRequest(x->nc, o->subject, subj, m->data, (int)m->len);
	if (s != NATS_OK) {
		char why[96];
		snprintf(why, sizeof(why), "NATS: %s", natsStatus_GetText(s));
		ptable_del(&x->t, p);
		error_reply(x, m, why, &x->n.nats_errors);
		return;
	}
}

static int same_client(shmq_client_id a, shmq_client_id b)
{
	return a.slot == b.slot && a.gen == b.gen;
}

/* Receive from local clients (the first waiting up to tmo ms). */
static int pump_shmq(struct im *x, int tmo)
{
	int n = 0;
	for (int i = 0; i < 256 && !x->shmq_done && !ptable_full(&x->t); i++) {
		shmq_msg m;
		int rc = shmq_server_recv_view(x->s, &m, i == 0 ? tmo : 0);
		if (rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EINTR)
			break;
		if (rc == -ESHUTDOWN) {
			x->shmq_done = 1;
			break;
		}
		if (rc < 0) {
			errorf("receive failed: %s", shmq_strerror(rc));
			x->shmq_done = 1;
			x->status = 1;
			break;
		}
		if (x->wake && same_client(m.from, x->wake_id))
			x->n.wakes++;
		else
			handle(x, &m);
		shmq_server_release(x->s, &m);
		n++;
	}
	return n;
}

/* Answer the requests whose NATS replies have come. */
static int pump_nats(struct im *x)
{
	pthread_mutex_lock(&x->mu);
	struct qnode *q = x->qhead;
	x->qhead = x->qtail = NULL;
	pthread_mutex_unlock(&x->mu);
	int n = 0;
	size_t plen = strlen(x->inbox);
	while (q) {
		struct qnode *next = q->next;
		natsMsg *m = q->m;
		const char *subj = natsMsg_GetSubject(m);
		uint64_t seq = 0;
		if (subj && !strncmp(subj, x->inbox, plen) && subj[plen] == '.')
			seq = strtoull(subj + plen + 1, NULL, 10);
		struct pend *p = ptable_by_seq(&x->t, seq);
		if (!p) {
			x->n.late++; /* after its timeout, or a second responder's */
		} else if (natsMsg_IsNoResponders(m)) {
			char why[160];
			snprintf(why, sizeof(why), "no responders on NATS subject '%s'", x->o->subject);
			error_reply(x, &p->req, why, &x->n.no_responders);
		} else {
			size_t len = (size_t)natsMsg_GetDataLength(m);
			if (len > x->max_msg) {
				char why[96];
				snprintf(why, sizeof(why), "reply too large for the shmq endpoint (%zu > %zu bytes)",
					 len, x->max_msg);
				error_reply(x, &p->req, why, &x->n.too_large);
			} else {
				shmq_reply(x, &p->req, natsMsg_GetData(m), len);
				x->n.replies++;
			}
		}
		if (p)
			ptable_del(&x->t, p);
		natsMsg_Destroy(m);
		free(q);
		q = next;
		n++;
	}
	return n;
}

static void drop_queue(struct im *x)
{
	pthread_mutex_lock(&x->mu);
	struct qnode *q = x->qhead;
	x->qhead = x->qtail = NULL;
	pthread_mutex_unlock(&x->mu);
	while (q) {
		struct qnode *next = q->next;
		natsMsg_Destroy(q->m);
		free(q);
		q = next;
	}
}

static int expire(struct im *x)
{
	int n = 0;
	struct pend *p;
	int64_t now = now_ms();
	char why[160];
	snprintf(why, sizeof(why), "no reply from NATS subject '%s' in %d ms", x->o->subject,
		 x->o->timeout_ms);
	while ((p = ptable_expired(&x->t, now))) {
		error_reply(x, &p->req, why, &x->n.timeouts);
		ptable_del(&x->t, p);
		n++;
	}
	return n;
}

static void fail_all(struct im *x, const char *reason, uint64_t *counter)
{
	struct pend *p;
	while ((p = ptable_oldest(&x->t))) {
		error_reply(x, &p->req, reason, counter);
		ptable_del(&x->t, p);
	}
}

static void idle_wait(struct im *x)
{
	int w = ptable_wait_ms(&x->t, now_ms(), 100);
	if (w == 0)
		return;
	pthread_mutex_lock(&x->mu);
	if (x->qhead) {
		pthread_mutex_unlock(&x->mu);
		return;
	}
	if (!x->shmq_done && !ptable_full(&x->t) && x->wake) {
		x->sleeping = 1;
		pthread_mutex_unlock(&x->mu);
		pump_shmq(x, w);
		pthread_mutex_lock(&x->mu);
		x->sleeping = 0;
		pthread_mutex_unlock(&x->mu);
		return;
	}
	/* Nothing to take from shmq: wait for NATS alone. */
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += (long)(w % 1000) * 1000000L;
	t.tv_sec += w / 1000 + t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&x->cv, &x->mu, &t);
	pthread_mutex_unlock(&x->mu);
}

static void print_counters(struct im *x)
{
	uint64_t errs = x->n.timeouts + x->n.no_responders + x->n.nats_errors + x->n.too_large +
			x->n.failed + x->n.stopping;
	fprintf(stderr,
		"%s: counters: requests=%llu replies=%llu oneway=%llu error_replies=%llu "
		"(timeout=%llu no_responders=%llu nats=%llu too_large=%llu failed=%llu "
		"stopping=%llu) client_gone=%llu reply_failed=%llu late=%llu oneway_lost=%llu "
		"disconnects=%llu reconnects=%llu\n",
		prog, (unsigned long long)x->n.requests, (unsigned long long)x->n.replies,
		(unsigned long long)x->n.oneway,
		(unsigned long long)errs,
		(unsigned long long)x->n.timeouts, (unsigned long long)x->n.no_responders,
		(unsigned long long)x->n.nats_errors, (unsigned long long)x->n.too_large,
		(unsigned long long)x->n.failed, (unsigned long long)x->n.stopping,
		(unsigned long long)x->n.client_gone, (unsigned long long)x->n.reply_failed,
		(unsigned long long)x->n.late, (unsigned long long)x->n.oneway_lost,
		(unsigned long long)atomic_load(&x->ev.disconnects),
		(unsigned long long)atomic_load(&x->ev.reconnects));
}

static void shutdown_shmq(struct im *x)
{
	if (!x->shut) {
		shmq_server_shutdown(x->s);
		x->shut = 1;
	}
}

static void run(struct im *x)
{
	int64_t stop_by = INT64_MAX;
	for (;;) {
		if (atomic_load(&x->ev.closed) && !x->failing) {
			/* Reconnects exhausted: answer everything with an error and stop. */
			x->failing = 1;
			x->status = 1;
			snprintf(x->why, sizeof(x->why), "NATS connection closed");
			fail_all(x, x->why, &x->n.failed);
			shutdown_shmq(x);
			stop_by = now_ms() + 2000;
		}
		if (bridge_stop && !x->shut) {
			shutdown_shmq(x);
			stop_by = now_ms() + x->o->timeout_ms + 1000;
		}
		int work = pump_nats(x);
		work += expire(x);
		work += pump_shmq(x, 0);
		if (x->shut && x->shmq_done && x->t.live == 0)
			break;
		if (now_ms() >= stop_by) {
			fail_all(x, "bridge stopping", &x->n.stopping);
			break;
		}
		if (!work)
			idle_wait(x);
	}
}

static int setup_nats_side(struct im *x)
{
	natsStatus s = natsInbox_Create(&x->inbox);
	char *wild = NULL;
	if (s == NATS_OK && (wild = malloc(strlen(x->inbox) + 3)))
		sprintf(wild, "%s.*", x->inbox);
	else if (s == NATS_OK)
		s = NATS_NO_MEMORY;
	if (s == NATS_OK) {
		bridge_sig_block();
		s = natsConnection_Subscribe(&x->isub, x->nc, wild, on_reply, x);
		bridge_sig_unblock();
	}
	free(wild);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(x->nc, 5000);
	if (s != NATS_OK) {
		errorf("cannot subscribe to the bridge's NATS inbox: %s", natsStatus_GetText(s));
		return -1;
	}
	x->nats_max = natsConnection_GetMaxPayload(x->nc);
	return 0;
}

static int setup_shmq_side(struct im *x)
{
	shmq_config cfg = x->o->cfg;
	cfg.slots++; /* the wake client's */
	int rc = shmq_server_create(&x->s, &cfg);
	if (rc < 0) {
		errorf("cannot create endpoint %s: %s", endpoint_str(&cfg), shmq_strerror(rc));
		return -1;
	}
	x->max_msg = shmq_server_max_msg(x->s);
	shmq_client *w;
	rc = shmq_client_connect(&w, &cfg);
	if (rc < 0) {
		errorf("cannot connect the bridge's own wake-up client: %s", shmq_strerror(rc));
		return -1;
	}
	pthread_mutex_lock(&x->mu);
	x->wake = w;
	x->wake_id = shmq_client_self(w);
	pthread_mutex_unlock(&x->mu);
	return 0;
}

int bridge_import(const struct bridge_opts *o)
{
	struct im *x = &the_im;
	x->o = o;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (ptable_init(&x->t, o->max_inflight, 0) < 0) {
		errorf("out of memory");
		return 1;
	}
	x->status = 1;
	/* NATS first: if it cannot be reached, no endpoint was made for nothing. */
	x->nc = bridge_nats_connect(o, &x->ev);
	if (!x->nc || setup_nats_side(x) < 0 || setup_shmq_side(x) < 0)
		goto out;
	char url[256] = "";
	natsConnection_GetConnectedUrl(x->nc, url, sizeof(url));
	printf("%s: %s forwards to NATS subject '%s' at %s: ready\n", prog, endpoint_str(&o->cfg),
	       o->subject, url);
	x->status = 0;
	run(x);
	bridge_nats_finish(x->nc, &x->ev);
	if (bridge_stop)
		fprintf(stderr, "%s: %s: stopped\n", prog, strsignal(bridge_stop));
	print_counters(x);
out:
	if (x->isub)
		natsSubscription_Unsubscribe(x->isub);
	pthread_mutex_lock(&x->mu);
	shmq_client *w = x->wake;
	x->wake = NULL;
	pthread_mutex_unlock(&x->mu);
	if (w)
		shmq_client_close(w);
	if (x->s)
		shmq_server_close(x->s);
	natsSubscription_Destroy(x->isub);
	if (x->nc)
		bridge_nats_close(x->nc);
	drop_queue(x); /* what came last */
	natsInbox_Destroy(x->inbox);
	ptable_free(&x->t);
	return x->status;
}
