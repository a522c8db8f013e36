/*
 * Lab 6 tests of the PV network device: netfront in domUs, netback in dom0, the store
 * handshake, and backends facing hostile frontends.  dom0 runs "vif-backend" (it serves the
 * store and the vifs until every domU has finished); the domUs run the other tests.
 *
 * dom0's options: vifs=1,2 (the domUs to give a vif), local=N (frames dom0 itself must
 * receive), fail=D (d's vif must be cut off for breaking the protocol), connects=D:N.
 */
#include "guest/test.h"
#include "guest/net.h"

#define MS 1000000ULL

#define START 0xffffff00u	/* ring indices start here, so that they wrap during a test */

static struct netfront nf;
static u8 fbuf[NETIF_MAX_FRAME] __attribute__((aligned(16)));

/* Map what every vif test needs: shared info and events, the grant table, the store. */
static bool vif_boot(void)
{
	return check_eq(time_init(), 0, "map shared info") &&
	       check_eq(gnttab_init(), 0, "set up the grant table") &&
	       check_eq(xenbus_init(), 0, "attach to the store");
}

/* ---- dom0 ---- */

static domid_t served[NETBACK_MAX_VIFS];
static unsigned nr_served;

/* Every domU we serve has stopped running, and its vif is disconnected. */
static bool all_done(void)
{
	for (unsigned i = 0; i < nr_served; i++)
		if (HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_domain_state, served[i]) == 1 ||
		    netback_state(served[i]) == XenbusStateConnected)
			return false;
	return true;
}

TEST(test_vif_backend, "vif-backend", "dom0: serve the store and every domU's vif")
{
	if (!vif_boot() || !check_eq(netback_init(), 0, "netback: bounce pages and ring room"))
		return;
	const char *list = test_option("vifs");
	for (const char *p = list ? list : ""; *p; p++)
		if (*p >= '1' && *p <= '7' && nr_served < NETBACK_MAX_VIFS)
			served[nr_served++] = (domid_t)(*p - '0');
	for (unsigned i = 0; i < nr_served; i++)
		check_eq(netback_add_vif(served[i]), 0, "give the domU a vif (backend InitWait)");
	netback_notify_always = test_option_num("always", 0) != 0;
	long r = netback_serve(all_done, 20000 * MS);
	check_eq(r, 0, "every domU finished (none stalled 20 s)");
	u64 want_local = test_option_num("local", 0), fail = test_option_num("fail", 0);
	if (want_local)
		check_eq((long)netback_local.frames, (long)want_local, "frames dom0 itself received");
	check_eq((long)netback_local.bad, 0, "frames to dom0 corrupted");
	for (unsigned i = 0; i < nr_served; i++) {
		const struct vif_stats *s = netback_stats(served[i]);
		printf("vif d%u: tx %lu (errors %lu), rx %lu, dropped %lu, events %lu, connects %lu, "
		       "closes %lu\n", served[i], s->tx_frames, s->tx_errors, s->rx_frames, s->dropped,
		       s->events_sent, s->connects, s->closes);
		if (served[i] == fail)
			check(s->failed == 1, "d%u's vif was cut off for breaking the ring", served[i]);
		else
			check(s->failed == 0, "d%u's vif kept (no protocol error)", served[i]);
	}
	if (test_option("tag")) {
		u64 events = 0;
		for (unsigned i = 0; i < nr_served; i++)
			events += netback_stats(served[i])->events_sent;
		printf("BENCH vif-%s-events-d0 %lu\n", test_option("tag"), events);
	}
	if (test_option("bad_copies"))		/* the hostile d1 of vif-bad-requests */
		check_eq((long)netback_stats(1)->copy_errors, (long)test_option_num("bad_copies", 0),
			 "copies refused by the hypervisor: only the bad grant refs got that far");
	u64 want_connects = test_option_num("connects", 0);
	if (want_connects)
		for (unsigned i = 0; i < nr_served; i++)
			check_eq((long)netback_stats(served[i])->connects, (long)want_connects,
				 "connections per vif (a repeated state does not map twice)");
}

/* ---- domUs ---- */

/* Size of frame seq: from a bare header up to a full page, every size class visited. */
static u32 frame_len(u32 seq, u32 max)
{
	static const u32 sizes[] = { 16, 17, 64, 100, 1500, 4096, 333, 2048, 4000, 65 };
	return MIN(sizes[seq % ARRAY_SIZE(sizes)] + (seq / 10) % 7, max);
}

/* Exchange n frames each way with peer (or with ourselves, peer == our id): send in
 * bursts, take what arrives, sleep only after the final check.  Frames from the peer must
 * come in order and intact.  Returns the number received. */
static u32 exchange(domid_t peer, u32 n, u32 max_len, u32 *bad)
{
	u32 sent = 0, got = 0;
	u64 quiet = get_system_time() + 3000 * MS;	/* frames flow at once, or never */
	while ((sent < n || got < n) && get_system_time() < quiet) {
		u32 burst = 1 + sent % 32;
		for (u32 i = 0; i < burst && sent < n; i++, sent++) {
			u32 len = frame_len(sent, max_len);
			pvnet_build(fbuf, peer, 0, sent, len);
			if (netfront_queue(&nf, fbuf, len) < 0)
				break;
		}
		netfront_push(&nf);
		long r;
		bool progress = false;
		while ((r = netfront_recv(&nf, fbuf, sizeof(fbuf))) != 0) {
			const struct pvnet_hdr *h = (const struct pvnet_hdr *)fbuf;
			progress = true;
			if (r > 0 && h->seq == PVNET_PROBE_SEQ)
				continue;
			if (r < 0 || !pvnet_intact(fbuf, (u32)r) || h->src != peer || h->seq != got)
				(*bad)++;
			got++;
		}
		if (progress)
			quiet = get_system_time() + 3000 * MS;
		else if (netfront_reap(&nf), sent == n || nf.tx_free >= NETFRONT_BUFS || RING_FULL(&nf.tx))
			netfront_wait(&nf, 100 * MS);
	}
	return got;
}

/* Wait for our own tx responses to be in (the backend answered everything). */
static void drain_tx(void)
{
	u64 end = get_system_time() + 2000 * MS, done = nf.tx_done;
	while (netfront_reap(&nf), nf.tx_done < nf.tx_frames && get_system_time() < end) {
		netfront_wait_tx(&nf, 50 * MS);
		if (nf.tx_done != done)		/* 2 s without an answer is a stall */
			done = nf.tx_done, end = get_system_time() + 2000 * MS;
	}
}

static u32 self_id(void)
{
	char buf[16];
	u64 id = 0;
	if (xenbus_read("domid", buf, sizeof(buf)) > 0)
		parse_size(buf, &id);
	return (u32)id;
}

/* Close the vif and check that every grant ended (the backend let go of everything). */
static void close_vif(void)
{
	check_eq(netfront_close(&nf), 0, "close: the backend reached Closed and every grant ended");
}

TEST(test_vif_connect, "vif-connect", "the store handshake, frames to dom0, and the close")
{
	if (!vif_boot())
		return;
	u64 t0 = get_system_time();
	if (!check_eq(netfront_connect(&nf, START), 0, "connect: InitWait, Initialised, Connected"))
		return;
	char state[8];
	check(xenbus_read(nf.backend_state, state, sizeof(state)) > 0 && state[0] == '4',
	      "the backend says Connected (%s)", state);
	u32 n = (u32)test_option_num("local", 200), bad = 0;
	u64 quiet = get_system_time() + 2000 * MS;	/* dom0 answers at once: 2 s is a stall */
	for (u32 i = 0; i < n && get_system_time() < quiet; i++) {
		u32 len = frame_len(i, NETIF_MAX_FRAME);
		pvnet_build(fbuf, 0, 0, i, len);
		long r;
		while ((r = netfront_send(&nf, fbuf, len)) == -XEN_EAGAIN && get_system_time() < quiet)
			netfront_wait(&nf, 100 * MS);
		if (r == 0)
			quiet = get_system_time() + 2000 * MS;
	}
	drain_tx();
	check_eq((long)nf.tx_done, n, "every frame to dom0 answered");
	check_eq((long)nf.tx_errors + (long)nf.tx_dropped, 0, "... with NETIF_RSP_OKAY");
	(void)bad;
	printf("vif-connect: connected in %lu ms\n", (unsigned long)((get_system_time() - t0) / MS));
	close_vif();
}

TEST(test_vif_traffic, "vif-traffic", "thousands of frames each way between two domUs")
{
	if (!vif_boot())
		return;
	domid_t peer = (domid_t)test_option_num("peer", 0);
	u32 n = (u32)test_option_num("frames", 3000), bad = 0;
	if (!check_eq(netfront_connect(&nf, START), 0, "connect") ||
	    !check(netfront_wait_peer(&nf, peer, 10000 * MS) == 0, "d%u's vif is connected", peer))
		return;
	u64 t0 = get_system_time(), sleeps0 = nf.sleeps;
	u32 got = exchange(peer, n, NETIF_MAX_FRAME, &bad);
	drain_tx();
	check_eq(got, n, "frames received from the peer");
	check_eq(bad, 0, "frames lost, repeated, reordered or corrupted");
	check_eq((long)nf.tx_errors + (long)nf.tx_dropped, 0, "frames refused or dropped by the backend");
	check(nf.tx.sring->req_prod < START && nf.rx.sring->req_prod < START,
	      "both rings' indices wrapped past 2^32 (tx 0x%x, rx 0x%x)", nf.tx.sring->req_prod,
	      nf.rx.sring->req_prod);
	check(nf.events_sent < (nf.tx_frames + nf.rx_frames) / 4,
	      "notifications suppressed: %lu events for %lu frames sent and %lu received",
	      nf.events_sent, nf.tx_frames, nf.rx_frames);
	check(nf.sleeps > sleeps0, "the frontend slept on its rings and was woken (%lu times)",
	      nf.sleeps - sleeps0);
	printf("vif-traffic: %u frames each way in %lu ms; %lu events sent, %lu received\n", n,
	       (unsigned long)((get_system_time() - t0) / MS), nf.events_sent, nf.events_got);
	/* Closing now is safe: what we sent is in dom0 or with the peer, and dom0 keeps
	 * frames queued for the peer after their sender's vif is gone. */
	close_vif();
}

/* An honest domU looping frames through dom0 to itself while another domU misbehaves. */
TEST(test_vif_witness, "vif-witness", "frames to ourselves through dom0, beside a hostile domU")
{
	if (!vif_boot())
		return;
	domid_t me = (domid_t)self_id();
	u32 n = (u32)test_option_num("frames", 1500), bad = 0;
	if (!check(me > 0, "our domid from the store (%u)", me) ||
	    !check_eq(netfront_connect(&nf, START), 0, "connect") ||
	    !check(netfront_wait_peer(&nf, me, 10000 * MS) == 0, "our vif is connected"))
		return;
	u32 got = exchange(me, n, NETIF_MAX_FRAME, &bad);
	drain_tx();
	check_eq(got, n, "frames looped back through dom0");
	check_eq(bad, 0, "frames lost, repeated, reordered or corrupted");
	close_vif();
}

/* ---- hostile frontends: dom0 and the witness must not notice ---- */

static bool backend_silent;	/* a raw request went unanswered: the rest would be too */

/* Push one raw tx request and wait for its response: the status (99: none came). */
static s16 raw_tx(struct netif_tx_request q)
{
	if (backend_silent)
		return 99;
	*RING_GET_REQUEST(&nf.tx, nf.tx.req_prod_pvt++) = q;
	netfront_push(&nf);
	u64 end = get_system_time() + 2000 * MS;
	while (!RING_HAS_UNCONSUMED_RESPONSES(&nf.tx) && get_system_time() < end)
		netfront_wait_tx(&nf, 50 * MS);
	if (!RING_HAS_UNCONSUMED_RESPONSES(&nf.tx)) {
		backend_silent = true;
		return 99;
	}
	struct netif_tx_response *r = RING_GET_RESPONSE(&nf.tx, nf.tx.rsp_cons++);
	if (r->id != q.id)
		check(false, "the response answers the request: id %u, want %u", r->id, q.id);
	return r->status;
}

TEST(test_vif_bad_requests, "vif-bad-requests", "a frontend's bad tx requests get errors, not dom0")
{
	if (!vif_boot() || !check_eq(netfront_connect(&nf, START), 0, "connect"))
		return;
	domid_t me = (domid_t)self_id();
	u8 *page = nf.tx_buf[0];
	grant_ref_t good = nf.tx_gref[0];
	pvnet_build(page, me, 0, PVNET_PROBE_SEQ, 64);
	/* the buffer is ours for these raw requests: take it off netfront's free list */
	nf.tx_free = nf.tx_next_free[0];
	long foreign = grant_foreign_access((domid_t)test_option_num("other", 2), virt_to_mfn(page), true);
	check(foreign > 0, "grant a page to another domU (%ld)", foreign);
	struct { const char *what; struct netif_tx_request q; s16 want; } cases[] = {
		{ "a ref past the table", { .gref = 100000, .size = 64, .id = 1 }, NETIF_RSP_ERROR },
		{ "a free ref", { .gref = 400, .size = 64, .id = 2 }, NETIF_RSP_ERROR },
		{ "a ref granted to another domain", { .gref = (grant_ref_t)foreign, .size = 64, .id = 3 }, NETIF_RSP_ERROR },
		{ "a frame crossing its page", { .gref = good, .offset = 4000, .size = 200, .id = 4 }, NETIF_RSP_ERROR },
		{ "an offset far past the page", { .gref = good, .offset = 65000, .size = 1000, .id = 11 }, NETIF_RSP_ERROR },
		{ "a frame longer than a page", { .gref = good, .size = 0xffff, .id = 5 }, NETIF_RSP_ERROR },
		{ "a frame shorter than its header", { .gref = good, .size = 8, .id = 6 }, NETIF_RSP_ERROR },
		{ "unknown flags", { .gref = good, .size = 64, .flags = 0x8000, .id = 7 }, NETIF_RSP_ERROR },
		{ "a header whose length disagrees", { .gref = good, .size = 128, .id = 8 }, NETIF_RSP_ERROR },
		{ "a good frame, after all that", { .gref = good, .size = 64, .id = 9 }, NETIF_RSP_OKAY },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(cases) - 1; i++)
		check_eq(raw_tx(cases[i].q), cases[i].want, cases[i].what);
	/* more refused frames than dom0 has bounce pages: each must give its page back */
	u32 refused = 0;
	((struct pvnet_hdr *)page)->len = 65;
	for (u16 i = 0; i < 200; i++)
		refused += raw_tx((struct netif_tx_request){ .gref = good, .size = 64, .id = i }) == NETIF_RSP_ERROR;
	check_eq(refused, 200, "200 frames whose header disagrees with their size, each refused");
	((struct pvnet_hdr *)page)->len = 64;
	check_eq(raw_tx(cases[ARRAY_SIZE(cases) - 1].q), NETIF_RSP_OKAY, cases[ARRAY_SIZE(cases) - 1].what);
	if (!check(!backend_silent, "the backend answered every request"))
		return;
	/* a request rewritten after it was pushed: the backend acts on one version, whole */
	struct netif_tx_request *slot = RING_GET_REQUEST(&nf.tx, nf.tx.req_prod_pvt);
	*slot = (struct netif_tx_request){ .gref = good, .size = 64, .id = 10 };
	nf.tx.req_prod_pvt++;
	netfront_push(&nf);
	for (int i = 0; i < 2000; i++)
		slot->size = (i & 1) ? 64 : 0xffff, slot->offset = (i & 1) ? 0 : 4095;
	u64 end = get_system_time() + 3000 * MS;
	while (!RING_HAS_UNCONSUMED_RESPONSES(&nf.tx) && get_system_time() < end)
		netfront_wait_tx(&nf, 50 * MS);
	sleep_ns(100 * MS);		/* time for a second answer, if the backend gave one */
	RING_IDX answers = nf.tx.sring->rsp_prod - nf.tx.rsp_cons;
	struct netif_tx_response *r = RING_GET_RESPONSE(&nf.tx, nf.tx.rsp_cons);
	check(answers == 1 && r->id == 10 && (r->status == NETIF_RSP_OKAY || r->status == NETIF_RSP_ERROR),
	      "a request rewritten after the push gets one answer (%u answers, status %d)", answers,
	      answers ? r->status : 0);
	nf.tx.rsp_cons += answers;
	gnttab_end_foreign_access((grant_ref_t)foreign);
	u32 got = 0, bad = 0;
	for (u64 e = get_system_time() + 2000 * MS; get_system_time() < e && !got;) {
		long n = netfront_recv(&nf, fbuf, sizeof(fbuf));
		if (n > 0)
			got++, bad += !pvnet_intact(fbuf, (u32)n);
		else
			netfront_wait(&nf, 50 * MS);
	}
	check(got >= 1 && bad == 0, "the good frames came back to us intact (%u)", got);
	close_vif();
}

TEST(test_vif_prod_ahead, "vif-prod-ahead", "a frontend whose req_prod runs far ahead loses its vif")
{
	if (!vif_boot() || !check_eq(netfront_connect(&nf, START), 0, "connect"))
		return;
	nf.tx.sring->req_prod = nf.tx.req_prod_pvt + 100000;
	evtchn_notify(nf.port);
	check(xenbus_wait_state(nf.backend_state, BIT(XenbusStateClosed), 5000 * MS) == XenbusStateClosed,
	      "the backend closed our vif");
	/* no close handshake left to do: the backend has let go, the grants can end */
	check_eq(gnttab_end_foreign_access((grant_ref_t)nf.tx_ref), 0, "dom0 unmapped our tx ring");
}

TEST(test_vif_no_consume, "vif-no-consume", "a frontend that never takes a response")
{
	if (!vif_boot() || !check_eq(netfront_connect(&nf, START), 0, "connect"))
		return;
	domid_t me = (domid_t)self_id();
	/* A full ring of 64-byte frames (four to a buffer page) -- NETFRONT_BUFS + 16 of them
	 * to ourselves, the rest to dom0 -- and then never a response taken, on either ring. */
	u32 size = RING_SIZE(&nf.tx);
	for (u32 i = 0; i < size; i++) {
		u16 b = (u16)(i % NETFRONT_BUFS), off = (u16)(i / NETFRONT_BUFS * 64);
		pvnet_build(nf.tx_buf[b] + off, i < NETFRONT_BUFS + 16 ? me : 0, 0, i, 64);
		*RING_GET_REQUEST(&nf.tx, nf.tx.req_prod_pvt++) = (struct netif_tx_request){
			.gref = nf.tx_gref[b], .offset = off, .size = 64, .id = (u16)i };
	}
	netfront_push(&nf);
	/* The 16 frames past our rx buffers wait in dom0 (our share of its bounce pages) until
	 * they age out (1 s); the rest flow as pages come free.  Wait for every answer. */
	for (u64 end = get_system_time() + 5000 * MS;
	     (RING_IDX)(nf.tx.sring->rsp_prod - START) < size && get_system_time() < end;)
		sleep_ns(20 * MS);
	sleep_ns(200 * MS);		/* ... and then for any answer too many */
	RING_IDX rsp = nf.tx.sring->rsp_prod;
	check_eq((long)(RING_IDX)(rsp - START), size, "the backend answered each request once, no more");
	check_eq((long)(RING_IDX)(nf.rx.sring->rsp_prod - START), NETFRONT_BUFS,
		 "... and filled each posted rx buffer, no more");
	/* Now claim a ring and one more of requests past the last response: they could only
	 * be there by overwriting responses we never took.  The backend must stop. */
	nf.tx.sring->req_prod = rsp + size + 1;
	evtchn_notify(nf.port);
	check(xenbus_wait_state(nf.backend_state, BIT(XenbusStateClosed), 5000 * MS) == XenbusStateClosed,
	      "the backend closed our vif");
	check_eq((long)(RING_IDX)(nf.tx.sring->rsp_prod - rsp), 0, "no response overwrote one we had not taken");
}

TEST(test_vif_crash, "vif-crash", "a frontend that crashes in the middle of a transfer")
{
	if (!vif_boot())
		return;
	domid_t peer = (domid_t)test_option_num("peer", 2);
	if (!check_eq(netfront_connect(&nf, START), 0, "connect") ||
	    !check(netfront_wait_peer(&nf, peer, 10000 * MS) == 0, "d%u's vif is connected", peer))
		return;
	/* half the transfer delivered, the rest queued and pushed: then crash */
	u32 sent = 0;
	for (u64 end = get_system_time() + 5000 * MS; nf.tx_done < 60 && get_system_time() < end;) {
		pvnet_build(fbuf, peer, 0, sent, 1500);
		if (sent < 100 && netfront_send(&nf, fbuf, 1500) == 0)
			sent++;
		else
			netfront_wait(&nf, 20 * MS), netfront_reap(&nf);
	}
	check(nf.tx_done >= 60, "dom0 took the first frames (%lu)", nf.tx_done);
	for (u32 i = 0; i < 40; i++, sent++) {
		pvnet_build(fbuf, peer, 0, sent, 1500);
		netfront_queue(&nf, fbuf, 1500);
	}
	netfront_push(&nf);
	printf("vif-crash: crashing with requests in flight and rings mapped by dom0\n");
	struct sched_shutdown s = { .reason = SHUTDOWN_crash };
	HYPERVISOR_sched_op(SCHEDOP_shutdown, &s);
}

/* The witness of vif-crash: takes the frames that arrive from the crashing peer, then
 * loops frames through dom0 to itself: its vif works on, whatever happened to the peer. */
TEST(test_vif_survivor, "vif-survivor", "frames keep flowing after the peer crashed")
{
	if (!vif_boot())
		return;
	domid_t me = (domid_t)self_id();
	u32 n = 500, bad = 0, from_peer = 0;
	if (!check_eq(netfront_connect(&nf, START), 0, "connect") ||
	    !check(netfront_wait_peer(&nf, me, 10000 * MS) == 0, "our vif is connected"))
		return;
	for (u64 e = get_system_time() + 2000 * MS; get_system_time() < e;) {
		long r = netfront_recv(&nf, fbuf, sizeof(fbuf));
		if (r > 0 && ((struct pvnet_hdr *)fbuf)->src != me)
			from_peer++, bad += !pvnet_intact(fbuf, (u32)r);
		else if (r == 0)
			netfront_wait(&nf, 50 * MS);
	}
	check_eq(bad, 0, "what arrived from the peer before it crashed is intact");
	check(from_peer >= 60, "frames from the peer arrived before it crashed (%u)", from_peer);
	u32 got = exchange(me, n, NETIF_MAX_FRAME, &bad);
	drain_tx();
	check_eq(got, n, "frames looped back through dom0 after the crash");
	check_eq(bad, 0, "frames lost, repeated, reordered or corrupted");
	close_vif();
}

TEST(test_vif_bad_handshake, "vif-bad-handshake", "a frontend that skips and repeats states")
{
	if (!vif_boot())
		return;
	char be[64], st[80];
	if (!check(xenbus_read(NETFRONT_DIR "backend", be, sizeof(be)) > 0, "find the backend"))
		return;
	snprintf(st, sizeof(st), "%s/state", be);
	check_eq(xenbus_wait_state(st, BIT(XenbusStateInitWait), 5000 * MS), XenbusStateInitWait,
		 "the backend waits for us");
	/* Connected before Initialised (and no ring refs): the backend must not act on it */
	check_eq(xenbus_printf(NETFRONT_DIR "state", "%u", XenbusStateConnected), 0, "skip to Connected");
	check_eq(xenbus_wait_state(st, BIT(XenbusStateConnected), 500 * MS), -XEN_ETIMEDOUT,
		 "the backend did not connect on a skipped state");
	/* Initialised without ring refs: the backend cannot connect, and says so */
	check_eq(xenbus_printf(NETFRONT_DIR "state", "%u", XenbusStateInitialised), 0, "Initialised, no refs");
	check_eq(xenbus_wait_state(st, BIT(XenbusStateClosing) | BIT(XenbusStateClosed), 5000 * MS) >= XenbusStateClosing, 1,
		 "the backend refuses to connect without ring refs");
	/* a state that is no number: ignored, not taken for the domain's death */
	check_eq(xenbus_write(NETFRONT_DIR "state", "x"), 0, "a state that is no number");
	/* start over properly, then repeat Initialised while connected: one connection */
	check_eq(xenbus_printf(NETFRONT_DIR "state", "%u", XenbusStateClosed), 0, "Closed");
	check_eq(xenbus_wait_state(st, BIT(XenbusStateClosed), 5000 * MS), XenbusStateClosed, "the backend is Closed");
	check_eq(xenbus_printf(NETFRONT_DIR "state", "%u", XenbusStateInitialising), 0, "start over");
	if (!check_eq(netfront_connect(&nf, START), 0, "connect after starting over"))
		return;
	check_eq(xenbus_printf(NETFRONT_DIR "state", "%u", XenbusStateInitialised), 0, "Initialised again");
	check_eq(xenbus_printf(NETFRONT_DIR "state", "%u", XenbusStateConnected), 0, "Connected again");
	domid_t me = (domid_t)self_id();
	u32 bad = 0;
	check_eq(exchange(me, 100, 256, &bad), 100, "frames still flow on the one connection");
	check_eq(bad, 0, "frames intact");
	drain_tx();
	close_vif();
}
