/* Lab 6: the ring discipline of include/public/io/ring.h, inside one domain -- the index
 * arithmetic, the final check, and thousands of frames through a ring whose indices wrap,
 * with a loopback event channel for the notifications. */
#include "guest/test.h"
#include "public/io/ring.h"

#define MS 1000000ULL
#define FRAMES 4000
#define FRAME_MAX 64

struct lreq { u32 seq, len, csum, id; };
struct lrsp { u32 seq, status, csum, id; };
DEFINE_RING_TYPES(l, struct lreq, struct lrsp);

/* A frame's checksum: a running mix of its bytes and its sequence number. */
static u32 frame_sum(const u8 *data, u32 len, u32 seq)
{
	u32 s = seq * 2654435761u;
	for (u32 i = 0; i < len; i++)
		s = (s << 5 | s >> 27) ^ data[i];
	return s;
}

/* The index arithmetic alone, on a private page: the notify window (across the wrap), the
 * final check, and the bounds a backend keeps against a frontend's indices. */
TEST(test_ring_index, "ring-index", "the notify window, the final check and the bounds")
{
	struct l_sring *s = alloc_page();
	struct l_front_ring f;
	struct l_back_ring b;
	bool notify;
	RING_IDX work;
	if (!check(s != NULL, "a page for the ring"))
		return;
	check(ring_notify_window(5, 8, 6) && ring_notify_window(5, 8, 8) &&
	      !ring_notify_window(5, 8, 5) && !ring_notify_window(5, 8, 9),
	      "notify when the event index is in (old, new]");
	check(ring_notify_window(0xfffffffeu, 2, 0xffffffffu) && ring_notify_window(0xfffffffeu, 2, 0) &&
	      !ring_notify_window(0xfffffffeu, 2, 3) && !ring_notify_window(0xfffffffeu, 2, 0xfffffffeu),
	      "... counting across the wrap at 2^32");

	SHARED_RING_INIT_AT(s, 0xffffffffu);
	FRONT_RING_ATTACH(&f, s, PAGE_SIZE);
	BACK_RING_ATTACH(&b, s, PAGE_SIZE);
	check_eq(RING_SIZE(&f), 128, "slots in a page (16-byte entries)");
	s->req_event = 0x12345678;
	RING_FINAL_CHECK_FOR_REQUESTS(&b, work);
	check(work == 0 && s->req_event == 0, "an idle backend's final check asks for the next "
	      "request (req_event 0x%x, want 0) and finds none (%u)", s->req_event, work);
	f.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
	check(notify && s->req_prod == 0, "the first request is published (req_prod 0x%x) and "
	      "notifies the sleeping backend (%d)", s->req_prod, notify);
	f.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
	check(!notify, "the second does not notify: the backend has not slept again");
	check_eq(RING_HAS_UNCONSUMED_REQUESTS(&b), 2, "the backend sees both requests");
	b.req_cons += 2;

	RING_FINAL_CHECK_FOR_RESPONSES(&f, work);
	check(work == 0 && s->rsp_event == f.rsp_cons + 1, "an idle frontend's final check asks "
	      "for the next response (rsp_event 0x%x)", s->rsp_event);
	b.rsp_prod_pvt++;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b, notify);
	check(notify, "the first response notifies the sleeping frontend");
	b.rsp_prod_pvt++;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b, notify);
	check(!notify, "the second does not");
	check_eq(RING_HAS_UNCONSUMED_RESPONSES(&f), 2, "the frontend sees both responses");

	/* The backend's first look finds nothing; a request is published before its new
	 * event index is visible, so the frontend sends nothing: the second look must find
	 * it.  Here the event index is the producer index itself, so that writing the one
	 * publishes the other at exactly that moment. */
	volatile RING_IDX idx = 41;
	check_eq(ring_final_check(&idx, &idx, 41, ~0u), 1, "the final check looks again after "
		 "setting the event index");

	s->req_prod = b.req_cons + 100000;
	check(RING_REQUEST_PROD_OVERFLOW(&b, s->req_prod), "req_prod far ahead is refused");
	check_eq(RING_HAS_UNCONSUMED_REQUESTS(&b), 128, "... and never yields more than the ring");
	b.req_cons += 128;
	check_eq(RING_HAS_UNCONSUMED_REQUESTS(&b), 0, "none while 128 requests are unanswered");
	free_page(s);
}

static struct l_front_ring fr;
static struct l_back_ring bk;
static u8 frames[128][FRAME_MAX];		/* the frontend's buffer for each slot */
static unsigned fport, bport;			/* frontend's and backend's ends */
static volatile u64 served, bad, back_events, back_sent, front_events;

/* The backend, run in the upcall: answer every request, then sleep only after the final
 * check.  Each request is copied once and only the copy is used. */
static void backend(unsigned port UNUSED)
{
	RING_IDX work;
	bool notify;
	back_events++;
	do {
		while (RING_HAS_UNCONSUMED_REQUESTS(&bk)) {
			struct lreq q;
			RING_COPY_REQUEST(&bk, bk.req_cons, &q);
			bk.req_cons++;
			u32 sum = q.len <= FRAME_MAX && q.id < 128 ? frame_sum(frames[q.id], q.len, q.seq) : 0;
			if (q.seq != served || sum != q.csum)
				bad++;
			served++;
			struct lrsp *r = RING_GET_RESPONSE(&bk, bk.rsp_prod_pvt++);
			*r = (struct lrsp){ .seq = q.seq, .status = 0, .csum = sum, .id = q.id };
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&bk, notify);
		if (notify && evtchn_notify(bport) == 0)
			back_sent++;
		RING_FINAL_CHECK_FOR_REQUESTS(&bk, work);
	} while (work);
}

static void frontend_event(unsigned port UNUSED)
{
	front_events++;
}

/* Take every published response; count the wrong ones.  The next sequence number expected. */
static u32 take_responses(u32 next)
{
	while (RING_HAS_UNCONSUMED_RESPONSES(&fr)) {
		struct lrsp *r = RING_GET_RESPONSE(&fr, fr.rsp_cons++);
		if (r->seq != next || r->status != 0 || r->id != (next & 127))
			bad++;
		next++;
	}
	return next;
}

/* Sleep until a response is there (final check first), or the deadline; false on timeout. */
static bool wait_responses(u64 deadline)
{
	RING_IDX work;
	cli();
	for (;;) {
		RING_FINAL_CHECK_FOR_RESPONSES(&fr, work);
		if (work || get_system_time() >= deadline)
			break;
		HYPERVISOR_set_timer_op(deadline);
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
		irq_window();
	}
	sti();
	return work != 0;
}

/* FRAMES frames in bursts through a ring whose indices start below 2^32 (option start=),
 * answered by a backend in the upcall; every frame once, in order, intact, and far fewer
 * events than frames. */
TEST(test_ring_loopback, "ring-loopback", "thousands of frames through a wrapping ring")
{
	const char *opt = test_option("start");
	u64 start = 0xfffff000u;
	if (opt && (parse_size(opt, &start) != 0 || start > 0xffffffffu))
		start = 0xfffff000u;
	if (!check_eq(time_init(), 0, "map shared info and register the callback vector"))
		return;
	struct l_sring *s = alloc_page();
	SHARED_RING_INIT_AT(s, (RING_IDX)start);	/* before the bind's own event runs backend() */
	FRONT_RING_ATTACH(&fr, s, PAGE_SIZE);
	BACK_RING_ATTACH(&bk, s, PAGE_SIZE);
	long a = evtchn_alloc_unbound(DOMID_SELF, frontend_event);
	long b = a > 0 ? evtchn_bind_interdomain(DOMID_SELF, (unsigned)a, backend) : a;
	if (!check(a > 0 && b > 0, "a loopback channel (%ld <-> %ld)", a, b))
		return;
	fport = (unsigned)a, bport = (unsigned)b;

	u32 sent = 0, next = 0, front_sent = 0;
	u64 deadline = get_system_time() + 20000 * MS;
	while (next < FRAMES && get_system_time() < deadline) {
		u32 burst = 1 + (sent * 7) % 50;
		for (u32 i = 0; i < burst && sent < FRAMES && !RING_FULL(&fr); i++, sent++) {
			u32 id = sent & 127, len = 1 + sent % FRAME_MAX;
			for (u32 k = 0; k < len; k++)
				frames[id][k] = (u8)(sent + k * 13);
			*RING_GET_REQUEST(&fr, fr.req_prod_pvt++) = (struct lreq){
				.seq = sent, .len = len, .csum = frame_sum(frames[id], len, sent), .id = id };
		}
		bool notify;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, notify);
		if (notify && evtchn_notify(fport) == 0)
			front_sent++;
		/* the backend answers at once: 5 s without a response is a lost notification */
		if (!wait_responses(MIN(deadline, get_system_time() + 5000 * MS)))
			break;
		next = take_responses(next);
	}
	check_eq(next, FRAMES, "frames answered");
	check_eq((long)served, FRAMES, "frames the backend served");
	check_eq((long)bad, 0, "frames lost, repeated, reordered or corrupted");
	check((RING_IDX)(fr.req_prod_pvt - (RING_IDX)start) == FRAMES && s->req_prod == fr.req_prod_pvt,
	      "req_prod moved by exactly %u (from 0x%x to 0x%x)", FRAMES, (u32)start, s->req_prod);
	check(start + FRAMES <= 0xffffffffu || s->req_prod < (RING_IDX)start,
	      "... and wrapped past 2^32 on the way");
	check(front_sent > 0 && front_sent < FRAMES / 4, "frontend events suppressed in bursts: "
	      "%u events for %u frames", front_sent, FRAMES);
	check(back_sent > 0 && back_sent < FRAMES / 4, "backend events suppressed in bursts: "
	      "%lu events for %u frames", (unsigned long)back_sent, FRAMES);
	printf("ring-loopback: %u frames, %u + %lu events sent, %lu backend upcalls\n", FRAMES,
	       front_sent, (unsigned long)back_sent, (unsigned long)back_events);
}

/* ---- between two domains: the ring page granted by the domU (lab 5), mapped by dom0 ---- */

#define XFRAMES 3000
#define XDATA 48
#define XMAP_VA 0x7f0200000ULL		/* where dom0 maps the domU's ring page */

struct xreq { u32 seq, len, csum, pad; u8 data[XDATA]; };
struct xrsp { u32 seq, status, csum, pad; };
DEFINE_RING_TYPES(x, struct xreq, struct xrsp);

static struct x_front_ring xf;
static struct x_back_ring xb;
static unsigned xport;
static volatile u64 x_served, x_bad, x_sent_events, x_upcalls;

/* dom0's backend, in the upcall: copy each request once, check it, answer, final check. */
static void xbackend(unsigned port UNUSED)
{
	RING_IDX work;
	bool notify;
	x_upcalls++;
	if (!xb.sring)
		return;
	do {
		if (RING_REQUEST_PROD_OVERFLOW(&xb, xb.sring->req_prod)) {
			x_bad++;	/* a broken frontend: stop serving it */
			return;
		}
		while (RING_HAS_UNCONSUMED_REQUESTS(&xb)) {
			struct xreq q;
			RING_COPY_REQUEST(&xb, xb.req_cons, &q);
			xb.req_cons++;
			u32 sum = q.len <= XDATA ? frame_sum(q.data, q.len, q.seq) : 0;
			if (q.seq != x_served || sum != q.csum)
				x_bad++;
			x_served++;
			*RING_GET_RESPONSE(&xb, xb.rsp_prod_pvt++) = (struct xrsp){ .seq = q.seq, .csum = sum };
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&xb, notify);
		if (notify && evtchn_notify(xport) == 0)
			x_sent_events++;
		RING_FINAL_CHECK_FOR_REQUESTS(&xb, work);
	} while (work);
}

static void xfront_event(unsigned port UNUSED)
{
	x_upcalls++;
}

/* The domU's side: grant the ring to dom0 and send XFRAMES frames in bursts, sleeping
 * (after the final check) whenever the ring is full or the answers are not there yet. */
static void xfront(RING_IDX start)
{
	struct x_sring *s = alloc_page();
	SHARED_RING_INIT_AT(s, start);
	FRONT_RING_ATTACH(&xf, s, PAGE_SIZE);
	long ref = grant_foreign_access(0, virt_to_mfn(s), false);
	long p = ref > 0 ? evtchn_alloc_unbound(0, xfront_event) : ref;
	if (!check(ref > 0 && p > 0, "grant the ring page to dom0 (ref %ld) and a port for it (%ld)", ref, p))
		return;
	u32 sent = 0, next = 0, events = 0, sleeps = 0;
	u64 deadline = get_system_time() + 30000 * MS;
	while (next < XFRAMES && get_system_time() < deadline) {
		u32 burst = 1 + (sent * 5) % 24;
		for (u32 i = 0; i < burst && sent < XFRAMES && !RING_FULL(&xf); i++, sent++) {
			struct xreq *q = RING_GET_REQUEST(&xf, xf.req_prod_pvt++);
			q->seq = sent, q->len = 1 + sent % XDATA;
			for (u32 k = 0; k < q->len; k++)
				q->data[k] = (u8)(sent * 3 + k);
			q->csum = frame_sum(q->data, q->len, sent);
		}
		bool notify;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&xf, notify);
		if (notify && evtchn_notify((unsigned)p) == 0)
			events++;
		/* dom0 answers promptly: 5 s without an answer is a lost notification */
		RING_IDX work;
		u64 quiet = MIN(deadline, get_system_time() + 5000 * MS);
		cli();
		for (;;) {
			RING_FINAL_CHECK_FOR_RESPONSES(&xf, work);
			if (work || get_system_time() >= quiet)
				break;
			sleeps++;
			HYPERVISOR_set_timer_op(quiet);
			HYPERVISOR_sched_op(SCHEDOP_block, NULL);
			irq_window();
		}
		sti();
		if (!work)
			break;
		while (RING_HAS_UNCONSUMED_RESPONSES(&xf)) {
			struct xrsp *r = RING_GET_RESPONSE(&xf, xf.rsp_cons++);
			if (r->seq != next || r->status != 0)
				x_bad++;
			next++;
		}
	}
	check_eq(next, XFRAMES, "frames answered by dom0");
	check_eq((long)x_bad, 0, "answers lost, repeated or out of order");
	check(s->req_prod < start, "the indices wrapped past 2^32 (0x%x -> 0x%x)", start, s->req_prod);
	check(sleeps > 0, "the frontend slept on the ring and was woken (%u times)", sleeps);
	check(events > 0 && events < XFRAMES / 4, "events to dom0 suppressed: %u for %u frames",
	      events, XFRAMES);
	printf("ring-domains: front sent %u events for %u frames, slept %u times\n", events, XFRAMES, sleeps);
	/* dom0 unmaps when it is done; only then can the grant end */
	long r = -XEN_EBUSY;
	for (int i = 0; i < 500 && (r = gnttab_end_foreign_access((grant_ref_t)ref)) == -XEN_EBUSY; i++)
		sleep_ns(10 * MS);
	check_eq(r, 0, "the ring's grant ends once dom0 unmapped it");
}

/* dom0's side: map the domU's ring page (ref FIRST_REF of the first grant), bind its port,
 * and serve in the upcall until every frame is answered. */
static void xback(void)
{
	long h = -1, p = -1;
	if (!check_eq(gnttab_prepare_va(XMAP_VA), 0, "room to map the ring"))
		return;
	for (int i = 0; i < 500 && h < 0; i++) {
		h = gnttab_map(1, GNTTAB_NR_RESERVED_ENTRIES, XMAP_VA, false);
		if (h < 0)
			sleep_ns(10 * MS);
	}
	if (!check(h >= 0, "map d1's ring page (%ld)", h))
		return;
	xb.sring = NULL;
	BACK_RING_ATTACH(&xb, (struct x_sring *)XMAP_VA, PAGE_SIZE);
	for (int round = 0; round < 2000 && p < 0; round++) {
		for (unsigned q = 1; q < 16 && p < 0; q++) {
			/* Interrupts off until xport is set: an event d1 sent already arrives the
			 * moment the port is bound, and the upcall answers through xport. */
			cli();
			long r = is_store_port(1, q) ? -XEN_EINVAL : evtchn_bind_interdomain(1, q, xbackend);
			if (r > 0)
				p = r, xport = (unsigned)r;
			sti();
		}
		if (p < 0)
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	if (!check(p > 0, "bind d1's port (%ld)", p))
		return;
	/* d1 may have pushed (and notified a port not bound yet) before we bound: serve what
	 * is on the ring now, as a backend does when it connects.  Interrupts off: the upcall
	 * runs the same function. */
	cli();
	xbackend(xport);
	sti();
	u64 seen = 0, quiet = get_system_time() + 5000 * MS;	/* 5 s without a frame: give up */
	while (x_served < XFRAMES && !x_bad && get_system_time() < quiet) {
		sleep_ns(20 * MS);
		if (x_served != seen)
			seen = x_served, quiet = get_system_time() + 5000 * MS;
	}
	printf("ring-domains: dom0 had %lu upcalls; req_prod 0x%x req_cons 0x%x rsp_prod_pvt 0x%x\n",
	       (unsigned long)x_upcalls, xb.sring->req_prod, xb.req_cons, xb.rsp_prod_pvt);
	check_eq((long)x_served, XFRAMES, "frames served");
	check_eq((long)x_bad, 0, "frames corrupted, out of order, or a req_prod beyond the ring");
	check(x_sent_events > 0 && x_sent_events < XFRAMES, "events to d1: %lu for %u frames (it "
	      "sleeps only when it must)", (unsigned long)x_sent_events, XFRAMES);
	evtchn_unbind(xport);
	xb.sring = NULL;
	check_eq(gnttab_unmap(XMAP_VA, (grant_handle_t)h), 0, "unmap the ring page");
}

TEST(test_ring_domains, "ring-domains", "a ring between a domU and dom0, through a grant")
{
	if (!check_eq(time_init(), 0, "map shared info") || !check_eq(gnttab_init(), 0, "set up the grant table"))
		return;
	if (start_info->flags & SIF_INITDOMAIN)
		xback();
	else
		xfront(0xfffffc00u);
}
