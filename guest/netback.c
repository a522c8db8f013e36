/*
 * netback: dom0's half of the PV network device (lab 6), and the bridge between domUs.
 * See include/public/io/netif.h for the rings and the store keys.
 *
 * Every page netback reads is a frontend's, so every word in it is hostile: a request is
 * copied out of the ring once (RING_COPY_REQUEST) and only the copy is looked at, the
 * frontend's req_prod is bounded by the ring size before anything is consumed, and frame
 * data is fetched with GNTTABOP_copy into dom0's own bounce pages, so the header the bridge
 * routes on cannot change under it.  A frontend that breaks the rules loses its vif (one
 * line on the console), never dom0's time: every loop here is bounded by a ring's size or
 * the bounce pool, and a receiver that stops taking frames has them dropped after a while
 * rather than holding the pool.
 *
 * A frame costs two copies, as in Xen's netback with a bridge: frontend A's tx page ->
 * a bounce page (tx), bounce page -> a page frontend B posted on its rx ring (rx).
 */
#include "guest/net.h"

#define MS 1000000ULL

#define NB_BOUNCE	128		/* frames in flight inside dom0 */
#define NB_PER_SENDER	16		/* ... of which one sender's: 7 senders never fill the pool */
#define NB_BATCH	16		/* copies per GNTTABOP_copy */
#define NB_VA		0x7f0400000ULL	/* vif d's tx ring page at NB_VA + 2d pages, rx next */
#define NB_STALL	(1000 * MS)	/* a frame waiting this long for an rx buffer is dropped */

struct vif {
	domid_t domid;
	bool exists, connected;
	unsigned state;			/* our (the backend's) XenbusState */
	struct netif_tx_back_ring tx;
	struct netif_rx_back_ring rx;
	grant_handle_t txh, rxh;
	unsigned port;
	u16 q[NB_BOUNCE];		/* bounce pages waiting for our rx ring, oldest first */
	unsigned qhead, qlen;
	unsigned inflight;		/* bounce pages holding frames this vif sent */
	struct vif_stats st;
	char fe[64], be[64];		/* the frontend's and our store dirs */
};

static struct vif vifs[NETBACK_MAX_VIFS];

static u8 *bounce[NB_BOUNCE];
static u64 bounce_mfn[NB_BOUNCE];
static u16 bounce_len[NB_BOUNCE], bounce_free[NB_BOUNCE];
static domid_t bounce_owner[NB_BOUNCE];	/* the sender a page is charged to */
static u64 bounce_queued[NB_BOUNCE];	/* when its frame joined a receiver's queue */
static unsigned nr_bounce_free;
static volatile bool kicked;
struct netback_local netback_local;
bool netback_notify_always;	/* bench: ignore the frontends' event indices */

/* Page b is free again (its frame was delivered, dropped or refused). */
static void bounce_put(u16 b)
{
	vifs[bounce_owner[b]].inflight--;
	bounce_free[nr_bounce_free++] = b;
}

/* A bounce page for a frame from v (charged to v), or -1: the pool, or v's share, is used up. */
static int bounce_get(struct vif *v)
{
	if (!nr_bounce_free || v->inflight >= NB_PER_SENDER)
		return -1;
	u16 b = bounce_free[--nr_bounce_free];
	bounce_owner[b] = v->domid;
	v->inflight++;
	return b;
}

/* Any vif's port: look at the rings (the main loop does; an upcall only says so). */
static void netback_event(unsigned port UNUSED)
{
	kicked = true;
}

/* Write one of our store nodes for vif v. */
static long be_write(struct vif *v, const char *key, const char *fmt, unsigned long val)
{
	char path[96], buf[32];
	snprintf(path, sizeof(path), "%s/%s", v->be, key);
	snprintf(buf, sizeof(buf), fmt, val);
	return xenbus_write(path, buf);
}

/* Move our side of v's handshake to XenbusState s, in the store too. */
static void set_state(struct vif *v, unsigned s)
{
	v->state = s;
	be_write(v, "state", "%lu", s);
}

/* Read the frontend's numeric key into *val (at most max).  0 or -XEN_Exxx. */
static long fe_read(struct vif *v, const char *key, u64 max, u64 *val)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/%s", v->fe, key);
	long r = xenbus_read_u64(path, val);
	return r < 0 ? r : *val > max ? -XEN_EINVAL : 0;
}

/* Drop the frames waiting for v that joined its queue before `before` (0: all of them;
 * v went away).  Its queue holds pages charged to their senders: a receiver that takes
 * frames slowly must not hold a sender up for longer than NB_STALL. */
static void drop_queue(struct vif *v, u64 before)
{
	for (; v->qlen && (!before || bounce_queued[v->q[v->qhead]] < before);
	     v->qlen--, v->qhead = (v->qhead + 1) % NB_BOUNCE) {
		bounce_put(v->q[v->qhead]);
		v->st.dropped++;
	}
}

/* Undo a connection: unbind, unmap both rings, drop what waits for the frontend. */
static void disconnect(struct vif *v)
{
	if (!v->connected)
		return;
	v->connected = false;
	evtchn_unbind(v->port);
	gnttab_unmap(NB_VA + 2 * v->domid * PAGE_SIZE, v->txh);
	gnttab_unmap(NB_VA + (2 * v->domid + 1) * PAGE_SIZE, v->rxh);
	v->tx.sring = NULL, v->rx.sring = NULL;
	drop_queue(v, 0);
}

/* A frontend broke the protocol: it loses its vif, nobody else notices. */
static void vif_fail(struct vif *v, const char *why, u32 a, u32 b)
{
	printf("netback: vif d%u: %s (0x%x, 0x%x): disconnected\n", v->domid, why, a, b);
	v->st.failed++;
	disconnect(v);
	set_state(v, XenbusStateClosing);
	set_state(v, XenbusStateClosed);
}

/* The frontend said Initialised: map its rings, bind its port.  0 or the error. */
static long connect(struct vif *v)
{
	u64 txref, rxref, port;
	u64 txva = NB_VA + 2 * v->domid * PAGE_SIZE, rxva = txva + PAGE_SIZE;
	long r, h1 = -1, h2 = -1;
	if ((r = fe_read(v, "tx-ring-ref", 0xffffffffu, &txref)) < 0 ||
	    (r = fe_read(v, "rx-ring-ref", 0xffffffffu, &rxref)) < 0 ||
	    (r = fe_read(v, "event-channel", 0xffffffffu, &port)) < 0)
		return r;
	if ((h1 = r = gnttab_map(v->domid, (grant_ref_t)txref, txva, false)) < 0 ||
	    (h2 = r = gnttab_map(v->domid, (grant_ref_t)rxref, rxva, false)) < 0 ||
	    (r = evtchn_bind_interdomain(v->domid, (unsigned)port, netback_event)) < 0) {
		if (h2 >= 0)
			gnttab_unmap(rxva, (grant_handle_t)h2);
		if (h1 >= 0)
			gnttab_unmap(txva, (grant_handle_t)h1);
		return r;
	}
	v->port = (unsigned)r, v->txh = (grant_handle_t)h1, v->rxh = (grant_handle_t)h2;
	BACK_RING_ATTACH(&v->tx, (struct netif_tx_sring *)txva, PAGE_SIZE);
	BACK_RING_ATTACH(&v->rx, (struct netif_rx_sring *)rxva, PAGE_SIZE);
	v->connected = true;
	v->st.connects++;
	return 0;
}

/* The frontend's state changed (or its node went away): the backend's side of the
 * handshake.  Out-of-order states are ignored (with a line), never acted on twice. */
static void frontend_changed(struct vif *v)
{
	u64 s;
	long r = fe_read(v, "state", 0xffffffffu, &s);
	if (r == -XEN_ENOENT) {		/* gone: the domain died, or removed its device */
		if (v->state != XenbusStateClosed) {
			disconnect(v);
			set_state(v, XenbusStateClosed);
		}
		v->exists = false;
		return;
	}
	if (r < 0) {
		printf("netback: vif d%u: unreadable frontend state (%ld): ignored\n", v->domid, r);
		return;
	}
	switch (s) {
	case XenbusStateInitialising:
		if (v->state == XenbusStateClosed)	/* a frontend starting over */
			set_state(v, XenbusStateInitWait);
		break;
	case XenbusStateInitialised:
		if (v->state != XenbusStateInitWait) {
			printf("netback: vif d%u: Initialised while we are in state %u: ignored\n",
			       v->domid, v->state);
			break;
		}
		long r = connect(v);
		if (r < 0) {
			printf("netback: vif d%u: cannot connect (%ld)\n", v->domid, r);
			set_state(v, XenbusStateClosing);
		} else {
			set_state(v, XenbusStateConnected);
		}
		break;
	case XenbusStateConnected:
		if (v->state != XenbusStateConnected)
			printf("netback: vif d%u: frontend Connected before we were: ignored\n", v->domid);
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
		if (v->state != XenbusStateClosed) {
			disconnect(v);
			set_state(v, XenbusStateClosing);
			set_state(v, XenbusStateClosed);
			v->st.closes++;
		}
		break;
	default:
		printf("netback: vif d%u: frontend state %lu: ignored\n", v->domid, (unsigned long)s);
	}
}

/* Hand the frame in bounce page b to its destination: dom0's own sink, or a vif's queue.
 * The status for the sender's tx response. */
static s16 route(struct vif *from, u16 b)
{
	struct pvnet_hdr *h = (struct pvnet_hdr *)bounce[b];
	if (h->len != bounce_len[b]) {
		bounce_put(b);
		return NETIF_RSP_ERROR;
	}
	h->src = from->domid;		/* the sender cannot lie about who it is */
	if (h->dst == 0) {
		netback_local.frames++;
		if (!pvnet_intact(bounce[b], bounce_len[b]))
			netback_local.bad++;
		bounce_put(b);
		return NETIF_RSP_OKAY;
	}
	struct vif *to = h->dst < NETBACK_MAX_VIFS ? &vifs[h->dst] : NULL;
	if (!to || !to->connected) {
		from->st.dropped++;
		bounce_put(b);
		return NETIF_RSP_DROPPED;
	}
	bounce_queued[b] = get_system_time();
	to->q[(to->qhead + to->qlen++) % NB_BOUNCE] = b;
	return NETIF_RSP_OKAY;
}

/* Whether tx request q -- our private copy, never the shared slot -- may be acted on: no
 * flags we do not know, a frame at least a header long and at most NETIF_MAX_FRAME, lying
 * wholly inside its page.  (The grant ref is checked by the copy itself: a bad one gets a
 * status, not a fault.) */
static bool tx_request_ok(const struct netif_tx_request *q)
{
#if SOLUTION(6)
	return q->flags == 0 && q->size >= sizeof(struct pvnet_hdr) && q->size <= NETIF_MAX_FRAME &&
	       (u32)q->offset + q->size <= PAGE_SIZE;
#else // SOLUTION(6)
	/* Lab 6: every field of q comes from the frontend.  Which values must the backend
	 * refuse before it asks the hypervisor to copy the frame?  (Beware u16 arithmetic.) */
	(void)q;
	lab_todo("lab 6: tx_request_ok not implemented");
	return false;
#endif // SOLUTION(6)
}

/* One batch of v's tx ring: copy requests out, validate, fetch the frames into bounce
 * pages with one GNTTABOP_copy, route them, answer.  How many requests it took. */
static unsigned tx_batch(struct vif *v)
{
	struct gnttab_copy op[NB_BATCH];
	struct { u16 id, b; s16 status; s16 op; } m[NB_BATCH];
	unsigned n = 0, nop = 0;
	if (RING_REQUEST_PROD_OVERFLOW(&v->tx, v->tx.sring->req_prod)) {
		vif_fail(v, "tx req_prod beyond the ring", v->tx.sring->req_prod, v->tx.rsp_prod_pvt);
		return 0;
	}
	while (n < NB_BATCH && nr_bounce_free > 0 && v->inflight < NB_PER_SENDER &&
	       RING_HAS_UNCONSUMED_REQUESTS(&v->tx)) {
		struct netif_tx_request q;
		RING_COPY_REQUEST(&v->tx, v->tx.req_cons, &q);
		v->tx.req_cons++;
		m[n] = (typeof(m[n])){ .id = q.id, .status = NETIF_RSP_ERROR, .op = -1 };
		if (tx_request_ok(&q)) {
			u16 b = (u16)bounce_get(v);	/* the loop's condition: there is one */
			bounce_len[b] = q.size;
			op[nop] = (struct gnttab_copy){
				.source = { .u.ref = q.gref, .domid = v->domid, .offset = q.offset },
				.dest = { .u.gmfn = bounce_mfn[b], .domid = DOMID_SELF, .offset = 0 },
				.len = q.size, .flags = GNTCOPY_source_gref };
			m[n].b = b, m[n].op = (s16)nop++;
		}
		n++;
	}
	if (nop && HYPERVISOR_grant_table_op(GNTTABOP_copy, op, nop) < 0)
		for (unsigned i = 0; i < nop; i++)
			op[i].status = GNTST_general_error;
	for (unsigned i = 0; i < n; i++) {
		if (m[i].op >= 0) {
			if (op[m[i].op].status == GNTST_okay)
				m[i].status = route(v, m[i].b);
			else
				bounce_put(m[i].b), v->st.copy_errors++;
		}
		if (m[i].status == NETIF_RSP_OKAY)
			v->st.tx_frames++;
		else if (m[i].status == NETIF_RSP_ERROR)
			v->st.tx_errors++;
		*RING_GET_RESPONSE(&v->tx, v->tx.rsp_prod_pvt++) =
			(struct netif_tx_response){ .id = m[i].id, .status = m[i].status };
	}
	if (n) {
		bool notify;
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&v->tx, notify);
		if ((notify || netback_notify_always) && evtchn_notify(v->port) == 0)
			v->st.events_sent++;
	}
	return n;
}

/* One batch of frames waiting for v, into the buffers it posted on its rx ring.  How many
 * it delivered (or answered with an error). */
static unsigned rx_batch(struct vif *v, u64 now)
{
	struct gnttab_copy op[NB_BATCH];
	struct netif_rx_request rq[NB_BATCH];
	u16 b[NB_BATCH];
	unsigned n = 0;
	if (now > NB_STALL)
		drop_queue(v, now - NB_STALL);		/* frames too old: whatever v is doing */
	if (!v->qlen)
		return 0;
	if (RING_REQUEST_PROD_OVERFLOW(&v->rx, v->rx.sring->req_prod)) {
		vif_fail(v, "rx req_prod beyond the ring", v->rx.sring->req_prod, v->rx.rsp_prod_pvt);
		return 0;
	}
	while (n < NB_BATCH && v->qlen && RING_HAS_UNCONSUMED_REQUESTS(&v->rx)) {
		RING_COPY_REQUEST(&v->rx, v->rx.req_cons, &rq[n]);
		v->rx.req_cons++;
		b[n] = v->q[v->qhead];
		v->qhead = (v->qhead + 1) % NB_BOUNCE, v->qlen--;
		op[n] = (struct gnttab_copy){
			.source = { .u.gmfn = bounce_mfn[b[n]], .domid = DOMID_SELF, .offset = 0 },
			.dest = { .u.ref = rq[n].gref, .domid = v->domid, .offset = 0 },
			.len = bounce_len[b[n]], .flags = GNTCOPY_dest_gref };
		n++;
	}
	if (!n)		/* frames wait, no buffer: they age (above) */
		return 0;
	if (HYPERVISOR_grant_table_op(GNTTABOP_copy, op, n) < 0)
		for (unsigned i = 0; i < n; i++)
			op[i].status = GNTST_general_error;
	for (unsigned i = 0; i < n; i++) {
		bool ok = op[i].status == GNTST_okay;
		*RING_GET_RESPONSE(&v->rx, v->rx.rsp_prod_pvt++) = (struct netif_rx_response){
			.id = rq[i].id, .status = ok ? (s16)bounce_len[b[i]] : NETIF_RSP_ERROR };
		ok ? v->st.rx_frames++ : v->st.rx_errors++;
		bounce_put(b[i]);
	}
	bool notify;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&v->rx, notify);
	if ((notify || netback_notify_always) && evtchn_notify(v->port) == 0)
		v->st.events_sent++;
	return n;
}

long netback_init(void)
{
	for (unsigned i = 0; i < NB_BOUNCE; i++) {
		bounce[i] = alloc_page();
		bounce_mfn[i] = virt_to_mfn(bounce[i]);
		bounce_free[i] = (u16)(NB_BOUNCE - 1 - i);
	}
	nr_bounce_free = NB_BOUNCE;
	if (xenbus_watch("@releaseDomain") < 0)
		return -XEN_EIO;
	for (domid_t d = 1; d < NETBACK_MAX_VIFS; d++) {
		long r;
		if ((r = gnttab_prepare_va(NB_VA + 2 * d * PAGE_SIZE)) < 0 ||
		    (r = gnttab_prepare_va(NB_VA + (2 * d + 1) * PAGE_SIZE)) < 0)
			return r;
	}
	return 0;
}

long netback_add_vif(domid_t d)
{
	char path[96];
	if (d == 0 || d >= NETBACK_MAX_VIFS)
		return -XEN_EINVAL;
	struct vif *v = &vifs[d];
	memset(v, 0, sizeof(*v));
	v->domid = d, v->exists = true;
	snprintf(v->fe, sizeof(v->fe), "/local/domain/%u/device/vif/0", d);
	snprintf(v->be, sizeof(v->be), "/local/domain/0/backend/vif/%u/0", d);
	/* What Xen's toolstack writes: each side's pointer to the other, the frontend's
	 * initial state.  Then the backend waits for the frontend (InitWait). */
	long r = 0;
	snprintf(path, sizeof(path), "%s/backend", v->fe);
	r |= xenbus_write(path, v->be);
	snprintf(path, sizeof(path), "%s/backend-id", v->fe);
	r |= xenbus_write(path, "0");
	snprintf(path, sizeof(path), "%s/state", v->fe);
	r |= xenbus_printf(path, "%u", XenbusStateInitialising);
	snprintf(path, sizeof(path), "/local/domain/%u/domid", d);
	r |= xenbus_printf(path, "%u", d);
	snprintf(path, sizeof(path), "%s/frontend", v->be);
	r |= xenbus_write(path, v->fe);
	r |= be_write(v, "frontend-id", "%lu", d);
	set_state(v, XenbusStateInitWait);
	snprintf(path, sizeof(path), "%s/state", v->fe);
	r |= xenbus_watch(path);
	return r ? -XEN_EIO : 0;
}

/* A watch fired on path: whose frontend is it?  (@releaseDomain: somebody died; each vif
 * looks at its frontend's state, which went with the domain's nodes.) */
static void watch_fired(const char *path)
{
	bool release = !strcmp(path, "@releaseDomain");
	for (domid_t d = 1; d < NETBACK_MAX_VIFS; d++) {
		struct vif *v = &vifs[d];
		size_t n = strlen(v->fe);
		if (v->exists && (release || (!strncmp(path, v->fe, n) && !strcmp(path + n, "/state"))))
			frontend_changed(v);
	}
}

/* Set every ring's event index and look once more: true if there is work after all. */
static bool final_check(void)
{
	for (domid_t d = 1; d < NETBACK_MAX_VIFS; d++) {
		struct vif *v = &vifs[d];
		RING_IDX tx = 0, rx = 0;
		if (!v->connected)
			continue;
		/* ask for an event only where one would give us work: a tx request we could
		 * take, an rx buffer for a frame that waits */
		if (nr_bounce_free && v->inflight < NB_PER_SENDER)
			RING_FINAL_CHECK_FOR_REQUESTS(&v->tx, tx);
		if (v->qlen)
			RING_FINAL_CHECK_FOR_REQUESTS(&v->rx, rx);
		if (tx || rx)
			return true;
	}
	return false;
}

/* One round of everything: the store, watches, every vif's rings.  Work done. */
static unsigned netback_round(void)
{
	char path[128];
	unsigned work = xenstored_poll();
	u64 now = get_system_time();
	while (xenbus_watch_pop(path, sizeof(path)))
		watch_fired(path), work++;
	if (xenbus_watch_lost())	/* somebody flooded dom0's watch queue: look at every vif */
		watch_fired("@releaseDomain"), work++;
	for (domid_t d = 1; d < NETBACK_MAX_VIFS; d++) {
		struct vif *v = &vifs[d];
		if (v->connected)
			work += tx_batch(v);
	}
	for (domid_t d = 1; d < NETBACK_MAX_VIFS; d++) {
		struct vif *v = &vifs[d];
		if (v->connected)
			work += rx_batch(v, now);
	}
	return work;
}

long netback_serve(bool (*done)(void), u64 idle_ns)
{
	u64 last = get_system_time();
	while (!done()) {
		kicked = false;
		if (netback_round()) {
			last = get_system_time();
			continue;
		}
		u64 now = get_system_time();
		if (now - last > idle_ns)
			return -XEN_ETIMEDOUT;
		cli();
		if (!kicked && !xenstored_pending() && !final_check()) {
			HYPERVISOR_set_timer_op(now + 10 * MS);	/* queued frames age; stalls drop */
			HYPERVISOR_sched_op(SCHEDOP_block, NULL);
			irq_window();
		}
		sti();
	}
	return 0;
}

const struct vif_stats *netback_stats(domid_t d)
{
	return d < NETBACK_MAX_VIFS ? &vifs[d].st : NULL;
}

unsigned netback_state(domid_t d)
{
	return d < NETBACK_MAX_VIFS && vifs[d].exists ? vifs[d].state : XenbusStateClosed;
}
