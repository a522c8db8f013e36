/*
 * Lab 8 benchmarks, run by `make bench` (tools/bench.py), which boots them with fpu=eager
 * and fpu=lazy.  Each prints "BENCH <name> <TSC cycles per operation>"; nothing is asserted.
 *
 *   bench-fpu-switch use=0|1   a round trip to the other domain (two domain switches), with
 *                              (use=1) or without an SSE instruction after each switch;
 *                              the peer runs bench-fpu-peer with the same use=
 *   bench-fpu-threads          guest thread switches: lazy with fpu_taskswitch, with and
 *                              without FPU use, and eager in the guest; the #NM round trip
 */
#include "guest/test.h"

#define ROUNDS 5000
#define BATCHES 50

static bool use_fpu(void)
{
	const char *s = test_option("use");
	return s && s[0] == '1';
}

static inline void touch_fpu(void)
{
	__asm__ volatile("addps %%xmm4, %%xmm4" ::: "memory");
}

/* ROUNDS yields, touching the FPU after each if use; cycles per round, the best of
 * BATCHES batches (the machine is shared: the least disturbed batch is the cost). */
static u64 ping(bool use)
{
	u64 best = ~0ULL;
	for (int b = 0; b < BATCHES; b++) {
		u64 t = rdtsc();
		for (int i = 0; i < ROUNDS / BATCHES; i++) {
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
			if (use)
				touch_fpu();
		}
		t = (rdtsc() - t) / (ROUNDS / BATCHES);
		best = t < best ? t : best;
	}
	return best;
}

TEST(test_bench_fpu_switch, "bench-fpu-switch", "domain round trip, eager or lazy, FPU used or not (lab 8)")
{
	bool use = use_fpu();
	touch_fpu();
	ping(use);	/* warm up: both domains running */
	long exits = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0);
	u64 cycles = ping(use);
	exits = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0) - exits - 1;
	printf("BENCH fpu-switch-%s %lu\n", use ? "used" : "unused", cycles);
	/* VM exits of this domain per 100 round trips: what the cycles cannot show under load */
	printf("BENCH fpu-switch-%s-exits %lu\n", use ? "used" : "unused", exits * 100 / ROUNDS);
	check(true, "benchmark ran");
}

TEST(test_bench_fpu_peer, "bench-fpu-peer", "the other side of bench-fpu-switch")
{
	bool use = use_fpu();
	touch_fpu();
	ping(use);
	ping(use);
	check(true, "benchmark ran");
}

static volatile bool thread_fpu;	/* the threads touch the FPU after each switch */
static volatile bool stop;

static void spin_thread(void *arg UNUSED)
{
	while (!stop) {
		thread_yield();
		if (thread_fpu)
			touch_fpu();
	}
}

/* Cycles per thread switch (one thread_yield to the other thread and back is two), the
 * best of BATCHES batches. */
static u64 thread_round(bool fpu)
{
	u64 best = ~0ULL;
	thread_fpu = fpu;
	for (int b = 0; b < BATCHES; b++) {
		u64 t = rdtsc();
		for (int i = 0; i < ROUNDS / BATCHES; i++) {
			thread_yield();
			if (fpu)
				touch_fpu();
		}
		t = (rdtsc() - t) / (2 * ROUNDS / BATCHES);
		best = t < best ? t : best;
	}
	return best;
}

/* Cycles of one fpu_taskswitch(1) followed by an #NM (or, nm false, a null hypercall),
 * the best of BATCHES batches. */
static u64 nm_round(bool nm)
{
	u64 best = ~0ULL;
	for (int b = 0; b < BATCHES; b++) {
		u64 t = rdtsc();
		for (int i = 0; i < ROUNDS / BATCHES; i++) {
			if (nm) {
				HYPERVISOR_fpu_taskswitch(1);
				touch_fpu();
			} else {
				HYPERVISOR_xen_version(XENVER_version, NULL);
			}
		}
		t = (rdtsc() - t) / (ROUNDS / BATCHES);
		best = t < best ? t : best;
	}
	return best;
}

TEST(test_bench_fpu_threads, "bench-fpu-threads", "guest thread switch with and without fpu_taskswitch (lab 8)")
{
	if (!check(thread_create(spin_thread, NULL) != NULL, "a second thread"))
		return;
	touch_fpu();
	thread_round(true);	/* warm up */
	printf("BENCH thread-lazy-unused %lu\n", thread_round(false));
	printf("BENCH thread-lazy-used %lu\n", thread_round(true));
	threads_fpu_eager = true;
	printf("BENCH thread-eager %lu\n", thread_round(true));
	threads_fpu_eager = false;
	/* The guest's #NM round trip alone: TS set, the FPU instruction traps, the handler
	 * clears TS (the registers are already ours, so nothing is saved or loaded). */
	printf("BENCH nm-round-trip %lu\n", nm_round(true));
	printf("BENCH fpu-null-hypercall %lu\n", nm_round(false));
	stop = true;
	thread_join_all();
	check(true, "benchmarks ran");
}
