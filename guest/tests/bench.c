/*
 * Benchmarks, run by `make bench` (tools/bench.py).  Each prints
 *   BENCH <name> <TSC cycles per operation>
 * and the runner turns them into ratios.  Nothing here asserts a speed.
 */
#include "guest/test.h"

#define N 20000

static void report(const char *name, u64 cycles, u64 ops)
{
	printf("BENCH %s %lu\n", name, cycles / ops);
}

/* The cheapest VM exit we can cause on purpose: a hypercall number that dispatch rejects
 * at once (bounds check), straight from the page's instruction. */
static void bench_bare_exit(void)
{
	u64 t = rdtsc();
	for (int i = 0; i < N; i++)
		hypercall_raw(~0ULL, 0, 0, 0, 0, 0);
	report("bare-exit", rdtsc() - t, N);
}

static void bench_null_hypercall(void)
{
	u64 t = rdtsc();
	for (int i = 0; i < N; i++)
		HYPERVISOR_xen_version(XENVER_version, NULL);
	report("null-hypercall", rdtsc() - t, N);
}

static void bench_multicall(void)
{
	static struct mc_batch b;
	u64 t = rdtsc();
	for (int i = 0; i < N; i++)
		mc_add(&b, __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0, 0);
	mc_flush(&b);
	report("multicall-entry", rdtsc() - t, N);
}

TEST(test_bench_hypercall, "bench-hypercall", "hypercall costs (lab 1)")
{
	bench_bare_exit();
	bench_null_hypercall();
	bench_multicall();
	check(true, "benchmarks ran");
}
