/*
 * Lab 6 benchmark, run by `make bench` (tools/bench.py): what a frame costs through a shared
 * ring (include/public/io/ring.h), frontend and backend in one domain over a loopback event
 * channel, the backend copying each frame out of the frontend's buffer.  Prints
 * "BENCH <name> <TSC cycles per frame>" and events per 1000 frames.  Nothing here asserts a
 * speed.
 */
#include "guest/test.h"
#include "public/io/ring.h"

#define NFRAMES 4096

struct breq { u32 seq, len; };
struct brsp { u32 seq, status; };
DEFINE_RING_TYPES(b, struct breq, struct brsp);

static struct b_front_ring fr;
static struct b_back_ring bk;
static u8 *bufs[128];		/* the frontend's frame buffer of each slot */
static u8 *sink;		/* where the backend copies a frame */
static unsigned fport, bport;
static volatile u64 events;	/* events sent, both ways */
static volatile bool every;	/* notify on every push, ignoring the event indices */

/* The backend (in the upcall): copy each frame out once, answer, then the final check. */
static void backend(unsigned port UNUSED)
{
	RING_IDX work;
	bool notify;
	do {
		while (RING_HAS_UNCONSUMED_REQUESTS(&bk)) {
			struct breq q;
			RING_COPY_REQUEST(&bk, bk.req_cons, &q);
			memcpy(sink, bufs[bk.req_cons & 127], MIN(q.len, PAGE_SIZE));
			bk.req_cons++;
			*RING_GET_RESPONSE(&bk, bk.rsp_prod_pvt++) = (struct brsp){ q.seq, 0 };
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&bk, notify);
		if ((notify || every) && evtchn_notify(bport) == 0)
			events++;
		RING_FINAL_CHECK_FOR_REQUESTS(&bk, work);
	} while (work);
}

static void frontend_event(unsigned port UNUSED)
{
}

/* Send NFRAMES frames of len bytes, burst at a time; cycles per frame (0 on a failure). */
static u64 run(u32 len, u32 burst, bool notify_every)
{
	u32 sent = 0, got = 0;
	every = notify_every;
	u64 t = rdtsc();
	while (got < NFRAMES) {
		for (u32 i = 0; i < burst && sent < NFRAMES && !RING_FULL(&fr); i++, sent++)
			*RING_GET_REQUEST(&fr, fr.req_prod_pvt++) = (struct breq){ sent, len };
		bool notify;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&fr, notify);
		if ((notify || every) && evtchn_notify(fport) == 0)
			events++;
		RING_IDX work;
		RING_FINAL_CHECK_FOR_RESPONSES(&fr, work);
		if (!work)
			return 0;	/* the backend answers in the upcall of our notify */
		while (RING_HAS_UNCONSUMED_RESPONSES(&fr))
			if (RING_GET_RESPONSE(&fr, fr.rsp_cons++)->seq != got++)
				return 0;
	}
	return (rdtsc() - t) / NFRAMES;
}

/* One case: BENCH <name> cycles per frame, and BENCH <name>-events per 1000 frames. */
static void bench_case(const char *name, u32 len, u32 burst, bool notify_every)
{
	u64 e0 = events, c = run(len, burst, notify_every);
	if (!check(c != 0, "%s: every frame answered in order", name))
		return;
	printf("BENCH %s %lu\n", name, c);
	printf("BENCH %s-events %lu\n", name, (events - e0) * 1000 / NFRAMES);
}

TEST(test_bench_ring, "bench-ring", "frames through a shared ring, with and without suppression (lab 6)")
{
	if (!check(time_init() == 0, "shared info mapped"))
		return;
	struct b_sring *s = alloc_page();
	for (int i = 0; i < 128; i++)
		bufs[i] = alloc_page();
	sink = alloc_page();
	SHARED_RING_INIT(s);
	FRONT_RING_ATTACH(&fr, s, PAGE_SIZE);
	BACK_RING_ATTACH(&bk, s, PAGE_SIZE);
	long a = evtchn_alloc_unbound(DOMID_SELF, frontend_event);
	long b = a > 0 ? evtchn_bind_interdomain(DOMID_SELF, (unsigned)a, backend) : a;
	if (!check(a > 0 && b > 0, "a loopback channel"))
		return;
	fport = (unsigned)a, bport = (unsigned)b;
	spin_tsc(10000000);	/* the bind's own event */
	bench_case("ring-64-burst", 64, 32, false);
	bench_case("ring-64-every", 64, 32, true);
	bench_case("ring-64-single", 64, 1, false);
	bench_case("ring-4096-burst", 4096, 32, false);
}
