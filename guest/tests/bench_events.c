/*
 * Lab 4 benchmarks, run by `make bench` (tools/bench.py): what an event costs.  Each prints
 * "BENCH <name> <TSC cycles per operation>" (events-per-upcall prints a count instead).
 * Nothing here asserts a speed.
 */
#include "guest/test.h"

#define ROUNDS 2000
#define BURST 64
#define BURSTS 100

static volatile u64 events;

static void on_event(unsigned port UNUSED)
{
	events++;
}

/* Block until events >= want: SCHEDOP_block with interrupts off, then a window for the
 * upcall (no timer: if the peer is gone the hypervisor ends the run as stuck). */
static void wait_events(u64 want)
{
	cli();
	while (events < want) {
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
		irq_window();
	}
	sti();
}

/* Ping-pong between dom0 (echoes) and the domU (measures): ROUNDS round trips woken by
 * block + upcall, then ROUNDS woken by SCHEDOP_poll on the masked port. */
TEST(test_bench_pingpong, "bench-pingpong", "event-channel round trips (lab 4)")
{
	if (!check(time_init() == 0, "shared info mapped"))
		return;
	bool dom0 = start_info->flags & SIF_INITDOMAIN;
	long port = -XEN_EINVAL;
	if (dom0) {
		port = evtchn_alloc_unbound(1, on_event);
	} else {
		for (int i = 0; i < 2000 && port < 0; i++) {
			for (unsigned p = 1; p < 16 && port < 0; p++)
				port = evtchn_bind_interdomain(0, p, on_event);
			if (port < 0)
				HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		}
		wait_events(1);	/* the bind's own event */
	}
	if (!check(port > 0, "a channel between dom0 and d1 (port %ld)", port))
		return;
	unsigned p = (unsigned)port;
	u64 base = events, t = rdtsc();
	for (u64 i = 1; i <= ROUNDS; i++) {
		if (!dom0)
			evtchn_notify(p);
		wait_events(base + i);
		if (dom0)
			evtchn_notify(p);
	}
	if (!dom0)
		printf("BENCH roundtrip-upcall %lu\n", (rdtsc() - t) / ROUNDS);
	evtchn_mask(p);
	t = rdtsc();
	for (int i = 0; i < ROUNDS; i++) {
		if (!dom0)
			evtchn_notify(p);
		wait_for_event(p, 0);
		if (dom0)
			evtchn_notify(p);
	}
	if (!dom0)
		printf("BENCH roundtrip-poll %lu\n", (rdtsc() - t) / ROUNDS);
	check(true, "benchmarks ran");
}

/* A burst of events on BURST ports while interrupts are off, BURSTS times: how many events
 * each upcall carries, and what one event costs in a burst and alone. */
TEST(test_bench_events, "bench-events", "events per upcall (lab 4)")
{
	static long a[BURST], b[BURST];
	if (!check(time_init() == 0, "shared info mapped"))
		return;
	for (int i = 0; i < BURST; i++) {
		a[i] = evtchn_alloc_unbound(DOMID_SELF, on_event);
		b[i] = a[i] > 0 ? evtchn_bind_interdomain(DOMID_SELF, (unsigned)a[i], NULL) : -1;
		if (!check(b[i] > 0, "loopback channel %d", i))
			return;
	}
	spin_tsc(10000000);	/* the binds' own events */
	u64 e0 = events, u0 = upcalls, t = rdtsc();
	for (int k = 0; k < BURSTS; k++) {
		cli();
		for (int i = 0; i < BURST; i++)
			evtchn_notify((unsigned)b[i]);
		irq_window();
		sti();
	}
	u64 cycles = rdtsc() - t;
	u64 n = events - e0, up = upcalls - u0;
	printf("BENCH burst-event %lu\n", cycles / (n ? n : 1));
	printf("BENCH events-per-upcall %lu\n", n / (up ? up : 1));
	e0 = events;
	t = rdtsc();
	for (int k = 0; k < BURSTS * BURST / 8; k++)
		evtchn_notify((unsigned)b[k % BURST]);	/* interrupts on: one upcall each */
	printf("BENCH single-event %lu\n", (rdtsc() - t) / (BURSTS * BURST / 8));
	check(events - e0 == BURSTS * BURST / 8, "every single event arrived");
}
