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
