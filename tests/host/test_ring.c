/* include/public/io/ring.h: the notify window, ring sizes, and a frontend and backend run
 * in lock step across the 2^32 wrap, with notifications counted and hostile indices. */
#include "check.h"
#include "types.h"
#include "public/io/ring.h"

struct req { u32 id, seq; u64 data; };
struct rsp { u32 id, status; };
DEFINE_RING_TYPES(t, struct req, struct rsp);

#define PAGE 4096
static union { struct t_sring s; u8 bytes[PAGE]; } page;

static void window(void)
{
	CHECK(ring_notify_window(5, 8, 6));
	CHECK(ring_notify_window(5, 8, 8));		/* new itself is in the window */
	CHECK(!ring_notify_window(5, 8, 5));		/* old is not: the peer saw it */
	CHECK(!ring_notify_window(5, 8, 9));		/* beyond: not yet */
	CHECK(!ring_notify_window(5, 5, 5) && !ring_notify_window(5, 5, 6));
	/* across the wrap: old 2^32-2, new 2 */
	CHECK(ring_notify_window(0xfffffffeu, 2, 0xffffffffu));
	CHECK(ring_notify_window(0xfffffffeu, 2, 0));
	CHECK(ring_notify_window(0xfffffffeu, 2, 2));
	CHECK(!ring_notify_window(0xfffffffeu, 2, 3));
	CHECK(!ring_notify_window(0xfffffffeu, 2, 0xfffffffeu));
	CHECK(!ring_notify_window(0xfffffffeu, 2, 0x80000000u));
}

static void sizes(void)
{
	CHECK(offsetof(struct t_sring, ring) == RING_HDR_BYTES);
	CHECK(sizeof(union t_sring_entry) == 16);
	CHECK(RING_SIZE_OF(&page.s, PAGE) == 128);		/* 4032 / 16 = 252 -> 128 */
	CHECK(ring_size_for(PAGE, 64) == 32);			/* 63 -> 32 */
	CHECK(ring_size_for(PAGE, 8) == 256);			/* 504 -> 256 */
	CHECK(ring_size_for(PAGE, 63) == 64 && ring_size_for(64 + 4 * 8, 8) == 4);
	CHECK(ring_size_for(PAGE, 4032) == 1 && ring_size_for(PAGE, 4033) == 0);
	CHECK(ring_size_for(64, 8) == 0 && ring_size_for(PAGE, 0) == 0);
}

/* Frontend pushes bursts of requests, backend answers them, both in lock step from
 * indices near 2^32; every request answered once, in order; events sent < entries. */
static void traffic(RING_IDX start)
{
	struct t_front_ring f;
	struct t_back_ring b;
	SHARED_RING_INIT_AT(&page.s, start);
	FRONT_RING_ATTACH(&f, &page.s, PAGE);
	BACK_RING_ATTACH(&b, &page.s, PAGE);
	CHECK(f.req_prod_pvt == start && b.req_cons == start && RING_FREE_REQUESTS(&f) == 128);

	u32 sent = 0, answered = 0, got = 0, req_events = 0, rsp_events = 0, bad = 0;
	u32 back_sleeping = 1, front_sleeping = 1, lost = 0;
	for (int round = 0; round < 400; round++) {
		u32 burst = 1 + (round * 7) % 40;
		for (u32 i = 0; i < burst && !RING_FULL(&f); i++) {
			struct req *q = RING_GET_REQUEST(&f, f.req_prod_pvt++);
			q->id = q->seq = sent++;
			q->data = ~(u64)q->seq;
		}
		bool notify;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
		if (notify)
			req_events++, back_sleeping = 0;
		if (back_sleeping && RING_HAS_UNCONSUMED_REQUESTS(&b))
			lost++;		/* requests waiting for a backend nobody woke */
		/* backend: serve a part of what is there, sleep only after the final check */
		if (!back_sleeping) {
			u32 quota = round % 3 ? 1000 : 5, work;
			while (quota-- && RING_HAS_UNCONSUMED_REQUESTS(&b)) {
				struct req q;
				RING_COPY_REQUEST(&b, b.req_cons++, &q);
				if (q.seq != answered || q.data != ~(u64)q.seq)
					bad++;
				struct rsp *r = RING_GET_RESPONSE(&b, b.rsp_prod_pvt++);
				r->id = q.id, r->status = answered++;
			}
			RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b, notify);
			if (notify)
				rsp_events++, front_sleeping = 0;
			RING_FINAL_CHECK_FOR_REQUESTS(&b, work);
			back_sleeping = !work;
		}
		if (front_sleeping && RING_HAS_UNCONSUMED_RESPONSES(&f))
			lost++;
		if (!front_sleeping) {
			u32 work;
			do {
				while (RING_HAS_UNCONSUMED_RESPONSES(&f)) {
					struct rsp *r = RING_GET_RESPONSE(&f, f.rsp_cons++);
					if (r->id != got || r->status != got)
						bad++;
					got++;
				}
				RING_FINAL_CHECK_FOR_RESPONSES(&f, work);
			} while (work);
			front_sleeping = 1;
		}
	}
	CHECK(sent > 4000 && bad == 0 && lost == 0);
	CHECK(got == answered && answered + (f.req_prod_pvt - b.req_cons) == sent);
	CHECK(f.req_prod_pvt - start == sent);		/* the indices wrapped if start was near it */
	CHECK(req_events > 0 && req_events < sent / 4);	/* suppression: a burst is one event */
	CHECK(rsp_events > 0 && rsp_events < got / 4);
	if (bad || lost)
		printf("traffic from %#x: %u bad, %u lost, %u/%u events\n", start, bad, lost, req_events, sent);
}

/* The backend bounds what a frontend's indices claim. */
static void hostile(void)
{
	struct t_front_ring f;
	struct t_back_ring b;
	SHARED_RING_INIT_AT(&page.s, 0xfffffff0u);
	FRONT_RING_ATTACH(&f, &page.s, PAGE);
	BACK_RING_ATTACH(&b, &page.s, PAGE);
	page.s.req_prod = b.req_cons + 100000;			/* far ahead */
	CHECK(RING_REQUEST_PROD_OVERFLOW(&b, page.s.req_prod));
	CHECK(RING_HAS_UNCONSUMED_REQUESTS(&b) == 128);		/* never more than the ring */
	page.s.req_prod = b.req_cons - 1;			/* behind */
	CHECK(RING_REQUEST_PROD_OVERFLOW(&b, page.s.req_prod));
	page.s.req_prod = b.req_cons + 128;			/* exactly full is fine */
	CHECK(!RING_REQUEST_PROD_OVERFLOW(&b, page.s.req_prod));
	CHECK(!RING_REQUEST_PROD_OVERFLOW(&b, b.req_cons + 129 - 1));
	/* a backend that has taken 128 requests and answered none (no room to answer yet):
	 * however far req_prod claims to be, it may take no more, or its responses would land
	 * on requests it has not read */
	page.s.req_prod = b.req_cons + 128;
	for (int i = 0; i < 128; i++) {
		CHECK(!RING_REQUEST_CONS_OVERFLOW(&b, b.req_cons));
		b.req_cons++;
	}
	page.s.req_prod = b.req_cons + 10;
	CHECK(RING_REQUEST_CONS_OVERFLOW(&b, b.req_cons));
	CHECK(RING_HAS_UNCONSUMED_REQUESTS(&b) == 0);
	u32 work;
	RING_FINAL_CHECK_FOR_REQUESTS(&b, work);
	CHECK(work == 0);					/* nothing to spin on */
	b.rsp_prod_pvt += 3;					/* three answered */
	CHECK(RING_HAS_UNCONSUMED_REQUESTS(&b) == 3 && !RING_REQUEST_CONS_OVERFLOW(&b, b.req_cons));
	/* the producer bound counts from the oldest unanswered request, not from req_cons */
	CHECK(!RING_REQUEST_PROD_OVERFLOW(&b, b.rsp_prod_pvt + 128));
	CHECK(RING_REQUEST_PROD_OVERFLOW(&b, b.rsp_prod_pvt + 129));
	/* the frontend's side of the same bound */
	f.req_prod_pvt += 128;
	CHECK(RING_FREE_REQUESTS(&f) == 0 && RING_FULL(&f));
	f.rsp_cons += 3;
	CHECK(RING_FREE_REQUESTS(&f) == 3 && !RING_FULL(&f));

	/* a backend that attaches after the frontend pushed still serves what was pushed */
	SHARED_RING_INIT_AT(&page.s, 0xfffffffeu);
	FRONT_RING_ATTACH(&f, &page.s, PAGE);
	f.req_prod_pvt += 3;
	RING_PUSH_REQUESTS(&f);
	BACK_RING_ATTACH(&b, &page.s, PAGE);
	CHECK(b.req_cons == 0xfffffffeu && RING_HAS_UNCONSUMED_REQUESTS(&b) == 3);

	/* a request copied once is immune to the frontend rewriting the slot */
	struct req q;
	RING_GET_REQUEST(&f, 7)->seq = 1;
	RING_COPY_REQUEST(&b, 7, &q);
	RING_GET_REQUEST(&f, 7)->seq = 2;
	CHECK(q.seq == 1);
}

/* The final check: with nothing to do it asks for the next entry's event and looks again. */
static void final_check(void)
{
	struct t_front_ring f;
	struct t_back_ring b;
	u32 work;
	bool notify;
	SHARED_RING_INIT_AT(&page.s, 0xffffffffu);
	FRONT_RING_ATTACH(&f, &page.s, PAGE);
	BACK_RING_ATTACH(&b, &page.s, PAGE);
	page.s.req_event = 0x12345678;				/* stale */
	RING_FINAL_CHECK_FOR_REQUESTS(&b, work);
	CHECK(work == 0 && page.s.req_event == 0);		/* cons + 1, wrapped */
	f.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
	CHECK(notify);						/* the sleeper is woken */
	f.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
	CHECK(!notify);						/* it is awake: no second event */
	RING_FINAL_CHECK_FOR_REQUESTS(&b, work);
	CHECK(work == 2 && page.s.req_event == 0);		/* work left: event untouched */

	/* An entry published after the consumer's first look but before its new event index
	 * was visible: the producer saw the old event index and sent nothing, so the second
	 * look must find it.  Aliasing the event index with the producer index makes writing
	 * the one publish the other at exactly that moment. */
	volatile RING_IDX idx = 41;
	CHECK(ring_final_check(&idx, &idx, 41, ~0u) == 1);
	idx = 41;
	CHECK(ring_final_check(&idx, &idx, 41, 0) == 0);	/* within the limit still */
}

int main(void)
{
	window();
	sizes();
	traffic(0);
	traffic(0xffffff00u);		/* wraps in the first few rounds */
	traffic(0x7fffff00u);		/* and across the sign bit */
	hostile();
	final_check();
	return check_report("host ring");
}
