/*
 * netfront: the domU's half of the PV network device (lab 6).  See include/public/io/netif.h
 * for the rings and the store keys, handouts/lab6-rings.md for the story.
 *
 * The frontend owns every page involved: the two ring pages and NETFRONT_BUFS buffers for
 * each direction.  It grants them all to the backend once, at connect time (Xen calls these
 * persistent grants), so sending a frame costs a memcpy into a granted page, a slot on the
 * tx ring and -- only if the backend asked for one -- an event.  The backend never maps
 * the buffers; it copies frames with GNTTABOP_copy, so a frontend's pages are never
 * mapped in dom0 for longer than one hypercall.
 */
#include "guest/net.h"

#define MS 1000000ULL

static struct netfront *the_nf;	/* vif 0: the event handler's */
bool netfront_notify_always;	/* bench: ignore the backend's event indices */

/* The checksum of a frame's payload: a running mix of its bytes and its sequence number. */
u32 pvnet_sum(const u8 *data, u32 len, u32 seq)
{
	u32 s = seq * 2654435761u;
	for (u32 i = 0; i < len; i++)
		s = (s << 5 | s >> 27) ^ data[i];
	return s;
}

/* Build a frame of len bytes (header included) in buf: pseudo-random payload from seq. */
void pvnet_build(u8 *buf, domid_t dst, domid_t src, u32 seq, u32 len)
{
	struct pvnet_hdr *h = (struct pvnet_hdr *)buf;
	u8 *p = buf + sizeof(*h);
	u32 n = len - sizeof(*h);
	for (u32 i = 0; i < n; i++)
		p[i] = (u8)(seq * 7 + i * 13 + (i >> 8));
	*h = (struct pvnet_hdr){ .dst = dst, .src = src, .seq = seq, .len = len,
				 .csum = pvnet_sum(p, n, seq) };
}

/* Whether the len bytes at buf are an intact frame (header, length, checksum). */
bool pvnet_intact(const u8 *buf, u32 len)
{
	const struct pvnet_hdr *h = (const struct pvnet_hdr *)buf;
	return len >= sizeof(*h) && len <= NETIF_MAX_FRAME && h->len == len &&
	       h->csum == pvnet_sum(buf + sizeof(*h), len - sizeof(*h), h->seq);
}

static void netfront_event(unsigned port UNUSED)
{
	if (the_nf)
		the_nf->events_got++;
}

/* Post rx buffer i to the backend. */
static void post_rx(struct netfront *nf, unsigned i)
{
	*RING_GET_REQUEST(&nf->rx, nf->rx.req_prod_pvt++) =
		(struct netif_rx_request){ .id = (u16)i, .gref = nf->rx_gref[i] };
}

/* Publish requests on one of the rings, and send an event if the backend asked for one. */
#define PUSH_AND_NOTIFY(nf, ring)                                                       \
	do {                                                                            \
		bool n_;                                                                \
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&(nf)->ring, n_);                   \
		if ((n_ || netfront_notify_always) && evtchn_notify((nf)->port) == 0)                               \
			(nf)->events_sent++;                                            \
	} while (0)

/* Grant everything, set up both rings with indices at start (0, or near 2^32 to test the
 * wrap) and post every rx buffer.  0 or the error. */
static long netfront_setup(struct netfront *nf, RING_IDX start)
{
	struct netif_tx_sring *txs = alloc_page();
	struct netif_rx_sring *rxs = alloc_page();
	SHARED_RING_INIT_AT(txs, start);
	SHARED_RING_INIT_AT(rxs, start);
	FRONT_RING_ATTACH(&nf->tx, txs, PAGE_SIZE);
	FRONT_RING_ATTACH(&nf->rx, rxs, PAGE_SIZE);
	if ((nf->tx_ref = grant_foreign_access(nf->backend_id, virt_to_mfn(txs), false)) < 0)
		return nf->tx_ref;
	if ((nf->rx_ref = grant_foreign_access(nf->backend_id, virt_to_mfn(rxs), false)) < 0)
		return nf->rx_ref;
	for (unsigned i = 0; i < NETFRONT_BUFS; i++) {
		long t, r;
		nf->tx_buf[i] = alloc_page();
		nf->rx_buf[i] = alloc_page();
		if ((t = grant_foreign_access(nf->backend_id, virt_to_mfn(nf->tx_buf[i]), true)) < 0)
			return t;
		if ((r = grant_foreign_access(nf->backend_id, virt_to_mfn(nf->rx_buf[i]), false)) < 0)
			return r;
		nf->tx_gref[i] = (grant_ref_t)t, nf->rx_gref[i] = (grant_ref_t)r;
		nf->tx_next_free[i] = (u16)(i + 1);
		post_rx(nf, i);
	}
	nf->tx_free = 0;
	long p = evtchn_alloc_unbound(nf->backend_id, netfront_event);
	if (p < 0)
		return p;
	nf->port = (unsigned)p;
	the_nf = nf;
	RING_PUSH_REQUESTS(&nf->rx);	/* the backend reads them when it connects */
	return 0;
}

/* Wait until the store node path holds one of the states in mask (bits of XenbusState),
 * or timeout.  The state, or -XEN_ETIMEDOUT. */
long xenbus_wait_state(const char *path, unsigned mask, u64 timeout_ns)
{
	u64 end = get_system_time() + timeout_ns, st = 0;
	char changed[160];
	if (xenbus_watch(path) < 0)
		return -XEN_EIO;
	long r = -XEN_ETIMEDOUT;
	for (;;) {
		if (xenbus_read_u64(path, &st) == 0 && st < 32 && (mask & BIT(st))) {
			r = (long)st;
			break;
		}
		u64 now = get_system_time();
		if (now >= end || xenbus_wait_watch(changed, sizeof(changed), end - now) < 0)
			break;
	}
	xenbus_unwatch(path);
	return r;
}

/* Write our device state. */
static long set_state(enum xenbus_state s)
{
	return xenbus_printf(NETFRONT_DIR "state", "%u", s);
}

long netfront_connect(struct netfront *nf, RING_IDX start)
{
	u64 id;
	long r;
	memset(nf, 0, sizeof(*nf));
	if ((r = xenbus_read(NETFRONT_DIR "backend", nf->backend, sizeof(nf->backend))) < 0 ||
	    (r = xenbus_read_u64(NETFRONT_DIR "backend-id", &id)) < 0)
		return r;
	if (id >= DOMID_FIRST_RESERVED)
		return -XEN_EINVAL;
	nf->backend_id = (domid_t)id;
	snprintf(nf->backend_state, sizeof(nf->backend_state), "%s/state", nf->backend);
	if ((r = xenbus_wait_state(nf->backend_state, BIT(XenbusStateInitWait), 5000 * MS)) < 0)
		return r;
	if ((r = netfront_setup(nf, start)) < 0)
		return r;
	if ((r = xenbus_printf(NETFRONT_DIR "tx-ring-ref", "%ld", nf->tx_ref)) < 0 ||
	    (r = xenbus_printf(NETFRONT_DIR "rx-ring-ref", "%ld", nf->rx_ref)) < 0 ||
	    (r = xenbus_printf(NETFRONT_DIR "event-channel", "%u", nf->port)) < 0 ||
	    (r = set_state(XenbusStateInitialised)) < 0)
		return r;
	r = xenbus_wait_state(nf->backend_state, BIT(XenbusStateConnected) | BIT(XenbusStateClosing) |
			      BIT(XenbusStateClosed), 5000 * MS);
	if (r != XenbusStateConnected)
		return r < 0 ? r : -XEN_EIO;
	return set_state(XenbusStateConnected);
}

void netfront_reap(struct netfront *nf)
{
	while (RING_HAS_UNCONSUMED_RESPONSES(&nf->tx)) {
		struct netif_tx_response *r = RING_GET_RESPONSE(&nf->tx, nf->tx.rsp_cons++);
		u16 id = r->id;
		if (r->status == NETIF_RSP_DROPPED)
			nf->tx_dropped++;
		else if (r->status != NETIF_RSP_OKAY)
			nf->tx_errors++;
		if (id < NETFRONT_BUFS && nf->tx_busy[id]) {
			nf->tx_busy[id] = false;
			nf->tx_next_free[id] = nf->tx_free, nf->tx_free = id;
			nf->tx_done++;
		}
	}
}

long netfront_queue(struct netfront *nf, const void *frame, u32 len)
{
	if (len == 0 || len > NETIF_MAX_FRAME)
		return -XEN_EINVAL;
	netfront_reap(nf);
	if (nf->tx_free >= NETFRONT_BUFS || RING_FULL(&nf->tx))
		return -XEN_EAGAIN;
	u16 id = nf->tx_free;
	nf->tx_free = nf->tx_next_free[id];
	nf->tx_busy[id] = true;
	memcpy(nf->tx_buf[id], frame, len);
	*RING_GET_REQUEST(&nf->tx, nf->tx.req_prod_pvt++) = (struct netif_tx_request){
		.gref = nf->tx_gref[id], .offset = 0, .id = id, .size = (u16)len };
	nf->tx_frames++;
	return 0;
}

void netfront_push(struct netfront *nf)
{
	PUSH_AND_NOTIFY(nf, tx);
}

long netfront_send(struct netfront *nf, const void *frame, u32 len)
{
	long r = netfront_queue(nf, frame, len);
	if (r == 0)
		netfront_push(nf);
	return r;
}

long netfront_recv(struct netfront *nf, void *buf, u32 max)
{
	if (!RING_HAS_UNCONSUMED_RESPONSES(&nf->rx))
		return 0;
	struct netif_rx_response r = *RING_GET_RESPONSE(&nf->rx, nf->rx.rsp_cons++);
	long got = r.status;
	if (r.id >= NETFRONT_BUFS)
		return -XEN_EIO;	/* the backend answered a buffer we never posted */
	if (got > 0 && (u32)got <= max && r.offset + (u32)got <= PAGE_SIZE)
		memcpy(buf, nf->rx_buf[r.id] + r.offset, (u32)got);
	else if (got > 0)
		got = -XEN_E2BIG;
	else if (got < 0)
		got = -XEN_EIO;		/* the backend's NETIF_RSP_*: not an -XEN_E code */
	post_rx(nf, r.id);
	PUSH_AND_NOTIFY(nf, rx);
	nf->rx_frames++;
	return got == 0 ? -XEN_EIO : got;
}

/* Sleep until the tx ring (and, if rx, the rx ring) has responses we have not taken, or
 * timeout: 0 or -XEN_ETIMEDOUT.  The final check sets each ring's event index first. */
static long wait_rings(struct netfront *nf, u64 timeout_ns, bool rx_too)
{
	u64 end = get_system_time() + timeout_ns;
	RING_IDX tx, rx = 0;
	long r = -XEN_ETIMEDOUT;
	cli();
	for (;;) {
		RING_FINAL_CHECK_FOR_RESPONSES(&nf->tx, tx);
		if (rx_too)
			RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, rx);
		if (tx || rx) {
			r = 0;
			break;
		}
		if (get_system_time() >= end)
			break;
		nf->sleeps++;
		HYPERVISOR_set_timer_op(end);
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
		irq_window();
	}
	sti();
	return r;
}

long netfront_wait(struct netfront *nf, u64 timeout_ns)
{
	return wait_rings(nf, timeout_ns, true);
}

long netfront_wait_tx(struct netfront *nf, u64 timeout_ns)
{
	return wait_rings(nf, timeout_ns, false);
}

long netfront_close(struct netfront *nf)
{
	long r = set_state(XenbusStateClosing);
	if (r == 0)
		r = xenbus_wait_state(nf->backend_state, BIT(XenbusStateClosed), 5000 * MS);
	if (r < 0)
		return r;
	the_nf = NULL;
	evtchn_unbind(nf->port);
	/* The backend has unmapped the rings and copies nothing more: every grant can end. */
	r = gnttab_end_foreign_access((grant_ref_t)nf->tx_ref);
	r |= gnttab_end_foreign_access((grant_ref_t)nf->rx_ref);
	for (unsigned i = 0; i < NETFRONT_BUFS; i++) {
		r |= gnttab_end_foreign_access(nf->tx_gref[i]);
		r |= gnttab_end_foreign_access(nf->rx_gref[i]);
	}
	if (r == 0) {		/* nobody can reach them now: the pages are ours to reuse */
		for (unsigned i = 0; i < NETFRONT_BUFS; i++)
			free_page(nf->tx_buf[i]), free_page(nf->rx_buf[i]);
		free_page(nf->tx.sring), free_page(nf->rx.sring);
	}
	long s = set_state(XenbusStateClosed);
	return r ? -XEN_EBUSY : s;
}

long netfront_wait_peer(struct netfront *nf, domid_t dst, u64 timeout_ns)
{
	static u8 probe[sizeof(struct pvnet_hdr)];
	u64 end = get_system_time() + timeout_ns;
	while (get_system_time() < end) {
		u64 dropped = nf->tx_dropped, errors = nf->tx_errors, done = nf->tx_done;
		pvnet_build(probe, dst, 0, PVNET_PROBE_SEQ, sizeof(probe));
		long r = netfront_send(nf, probe, sizeof(probe));
		if (r < 0)
			return r;
		/* A connected backend answers every request at once: DROPPED while dst is not
		 * connected yet.  No answer at all, or an error, and waiting longer is no use. */
		u64 answer_by = get_system_time() + 2000 * MS;
		while (nf->tx_done == done && get_system_time() < answer_by)
			netfront_wait_tx(nf, 50 * MS), netfront_reap(nf);
		if (nf->tx_done == done)
			return -XEN_ETIMEDOUT;
		if (nf->tx_errors != errors)
			return -XEN_EIO;
		if (nf->tx_dropped == dropped)
			return 0;
		sleep_ns(20 * MS);
	}
	return -XEN_ETIMEDOUT;
}
