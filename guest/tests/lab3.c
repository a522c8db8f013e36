/* Lab 3: shared info, PV time, the wall clock and the one-shot timer. */
#include "guest/test.h"

#define MS 1000000ULL

static volatile u64 timer_events;

static void on_timer(unsigned port UNUSED)
{
	timer_events++;
}

/* Map shared info and register the upcall (needs lab 2's map_page). */
static bool setup(void)
{
	long r = time_init();
	evtchn_set_handler(PVLAB_TIMER_PORT, on_timer);
	return check_eq(r, 0, "map shared info and register the callback vector");
}

/* Read the clock n times; return how many reads went backwards or jumped by more than
 * max_step ns. */
static int bad_reads(int n, u64 max_step)
{
	u64 prev = get_system_time();
	int bad = 0;
	for (int i = 0; i < n; i++) {
		u64 t = get_system_time();
		if (t < prev || t - prev > max_step) {
			if (bad++ < 3)
				printf("bad read %d: %lu after %lu\n", i, t, prev);
		}
		prev = t;
	}
	return bad;
}

TEST(test_time_read, "time-read", "the PV clock and the wall clock")
{
	if (!setup())
		return;
	u64 t0 = get_system_time();
	check(t0 > 0 && t0 < 3600 * 1000 * MS, "system time is the time since boot (%lu ns)", t0);
	check_eq(bad_reads(100000, 100 * MS), 0, "100000 reads never go backwards or jump");
	u64 sec;
	u32 nsec;
	get_wallclock(&sec, &nsec);
	const char *now = test_option("now");
	u64 want = 0;
	if (now && parse_size(now, &want) == 0)
		check(sec + 5 >= want && sec <= want + 5, "the wall clock (%lu) is within 5 s of the grader's (%lu)", sec, want);
	else
		skip("wall clock", "no now=SECONDS on the command line");
	check(nsec < 1000000000, "wc nanoseconds below 10^9");
}

TEST(test_time_stress, "time-stress", "no torn reads while the hypervisor rewrites the record")
{
	if (!setup())
		return;
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_time_stress, 1), 0, "stress mode on");
	int bad = bad_reads(300000, 50 * MS);
	HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_time_stress, 0);
	check_eq(bad, 0, "300000 reads under stress: never torn, never backwards");
}

TEST(test_time_switch, "time-switch", "time never goes backwards across domain switches")
{
	if (!setup())
		return;
	int bad = 0;
	for (int i = 0; i < 200; i++) {
		u64 a = get_system_time();
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		u64 b = get_system_time();
		bad += b < a;
	}
	check_eq(bad, 0, "200 reads around a yield to the other domain");
}

TEST(test_timer, "timer", "one-shot timers: past, cancelled, and sleeping on one")
{
	if (!setup())
		return;
	u64 before = timer_events;
	check_eq(HYPERVISOR_set_timer_op(get_system_time() - 1), 0, "a timer in the past");
	for (u64 end = get_system_time() + 100 * MS; timer_events == before && get_system_time() < end;)
		pause();
	check_eq((long)(timer_events - before), 1, "... fires at once");
	before = timer_events;
	check_eq(HYPERVISOR_set_timer_op(get_system_time() + 20 * MS), 0, "a timer 20 ms ahead");
	check_eq(HYPERVISOR_set_timer_op(0), 0, "... cancelled with 0");
	for (u64 end = get_system_time() + 60 * MS; get_system_time() < end;)
		pause();
	check_eq((long)(timer_events - before), 0, "... never fires");
	before = timer_events;
	long exits = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0);
	u64 t0 = get_system_time();
	sleep_ns(30 * MS);
	u64 slept = get_system_time() - t0;
	check(slept >= 30 * MS && slept < 2000 * MS, "sleep(30 ms) took %lu us", slept / 1000);
	check_eq((long)(timer_events - before), 1, "... woken by exactly one timer event");
	check(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0) - exits < 200,
	      "... blocked rather than spun");
}

TEST(test_block_forever, "block-forever", "block with no timer and no events: never wakes")
{
	if (!setup())
		return;
	cli();
	HYPERVISOR_sched_op(SCHEDOP_block, NULL);
	printf("woke up\n");
	check(false, "a vCPU with nothing to wake it stayed blocked");
}
