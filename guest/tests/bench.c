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

#define NPTE 512
#define BENCH_VA 0x8000000000ULL

/* Lab 2: 512 PTE writes as 512 mmu_updates, as one batch, and as update_va_mapping. */
TEST(test_bench_paging, "bench-paging", "page-table update costs (lab 2)")
{
	static struct mmu_update req[NPTE];
	u64 page = virt_to_mfn(alloc_page());
	if (!check(map_page(current_l4(), BENCH_VA, page, PTE_P | PTE_W) == 0, "make the tables"))
		return;
	pte_t *pte = find_pte(current_l4(), BENCH_VA);
	u64 l1 = (virt_to_mfn(pte) << PAGE_SHIFT) + ((u64)pte & (PAGE_SIZE - 1));
	for (int i = 0; i < NPTE; i++)
		req[i] = (struct mmu_update){ l1 + (u64)i * 8, (page << PAGE_SHIFT) | PTE_P | PTE_W };
	u64 t = rdtsc();
	for (int i = 0; i < NPTE; i++)
		HYPERVISOR_mmu_update(&req[i], 1, NULL, DOMID_SELF);
	report("pte-single-mmu_update", rdtsc() - t, NPTE);
	t = rdtsc();
	HYPERVISOR_mmu_update(req, NPTE, NULL, DOMID_SELF);
	report("pte-batched-512", rdtsc() - t, NPTE);
	t = rdtsc();
	for (int i = 0; i < NPTE; i++)
		HYPERVISOR_update_va_mapping(BENCH_VA + (u64)i * PAGE_SIZE, (page << PAGE_SHIFT) | PTE_P | PTE_W, 0);
	report("pte-update_va_mapping", rdtsc() - t, NPTE);
	u64 other = new_address_space(), mine = current_l4();
	t = rdtsc();
	for (int i = 0; i < 1000; i++) {
		mmuext(MMUEXT_NEW_BASEPTR, other);
		mmuext(MMUEXT_NEW_BASEPTR, mine);
	}
	report("address-space-switch", rdtsc() - t, 2000);
	check(true, "benchmarks ran");
}

/* Lab 3: the reason shared info exists -- the clock without a VM exit. */
TEST(test_bench_time, "bench-time", "reading the time (lab 3)")
{
	if (!check(time_init() == 0, "shared info mapped"))
		return;
	u64 t = rdtsc();
	for (int i = 0; i < N; i++)
		HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_system_time, 0);
	report("time-hypercall", rdtsc() - t, N);
	t = rdtsc();
	for (int i = 0; i < N; i++)
		get_system_time();
	report("time-shared-info", rdtsc() - t, N);
}

/* What eager FPU switching adds to each change of domain (hv/fpu.c): FXSAVE of the old
 * state, the pointer scrub, FXRSTOR of the new -- the same instructions, timed here --
 * against a yield that stays in this domain (no FPU work). */
TEST(test_bench_fpu, "bench-fpu", "the cost of switching FPU/SSE state (eager)")
{
	static struct fxsave_area a, b;
	static const u32 k;
	fxsave(&a);
	fxsave(&b);
	u64 t = rdtsc();
	for (int i = 0; i < N; i++) {
		fxsave(i & 1 ? &a : &b);
		fpu_overwrite_pointers(&k);
		fxrstor(i & 1 ? &b : &a);
	}
	report("fpu-switch", rdtsc() - t, N);
	t = rdtsc();
	for (int i = 0; i < N; i++)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	report("yield-same-domain", rdtsc() - t, N);
	check(true, "benchmarks ran");
}
