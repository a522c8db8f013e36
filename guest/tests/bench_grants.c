/*
 * Lab 5 benchmarks, run by `make bench` (tools/bench.py): what moving a page between domains
 * costs.  d1 grants PAGES pages to dom0; dom0 measures, per 4 KiB page, a grant copy against
 * map + read + unmap, and a batch of PAGES maps (and unmaps) in one hypercall against one
 * hypercall each.  Each prints "BENCH <name> <TSC cycles per page>".  Nothing here asserts a
 * speed.
 */
#include "guest/test.h"

#define ROUNDS 200
#define PAGES 16
#define BENCH_VA 0x7f0200000ULL

static long masked(long p)
{
	if (p > 0)
		evtchn_mask((unsigned)p);
	return p;
}

/* d1: grant PAGES pages to dom0, tell it, and wait until it is done. */
static void granter(void)
{
	for (int i = 0; i < PAGES; i++)
		if (grant_foreign_access(0, virt_to_mfn(alloc_page()), false) < 0)
			return;
	long p = masked(evtchn_alloc_unbound(0, NULL));	/* the grants exist once it does */
	if (check(p > 0, "a port for dom0 (%ld)", p))
		wait_for_event((unsigned)p, 60000 * 1000000ULL);
}

/* Map refs 8.. of d1 at BENCH_VA.. with `per_call` maps per hypercall, then unmap them the
 * same way; false on any error. */
static bool map_all(int per_call)
{
	static struct gnttab_map_grant_ref m[PAGES];
	static struct gnttab_unmap_grant_ref u[PAGES];
	for (int i = 0; i < PAGES; i++)
		m[i] = (struct gnttab_map_grant_ref){ .host_addr = BENCH_VA + i * PAGE_SIZE, .flags = GNTMAP_host_map,
						      .ref = GNTTAB_NR_RESERVED_ENTRIES + i, .dom = 1 };
	for (int i = 0; i < PAGES; i += per_call)
		if (HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m[i], per_call) < 0)
			return false;
	for (int i = 0; i < PAGES; i++) {
		if (m[i].status != GNTST_okay)
			return false;
		u[i] = (struct gnttab_unmap_grant_ref){ .host_addr = m[i].host_addr, .handle = m[i].handle };
	}
	for (int i = 0; i < PAGES; i += per_call)
		if (HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u[i], per_call) < 0)
			return false;
	for (int i = 0; i < PAGES; i++)
		if (u[i].status != GNTST_okay)
			return false;
	return true;
}

/* dom0: the measurements. */
static void mapper(void)
{
	long q = -XEN_EINVAL;
	for (int i = 0; i < 2000 && q <= 0; i++) {
		for (unsigned p = 1; p < 16 && q <= 0; p++)
			q = is_store_port(1, p) ? q : masked(evtchn_bind_interdomain(1, p, NULL));
		if (q <= 0)
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	if (!check(q > 0, "bind d1's port (%ld)", q))
		return;
	char *mine = alloc_page();
	for (int i = 0; i < PAGES; i++)
		gnttab_prepare_va(BENCH_VA + i * PAGE_SIZE);
	struct gnttab_copy c = { .source = { .u.ref = GNTTAB_NR_RESERVED_ENTRIES, .domid = 1 },
				 .dest = { .u.gmfn = virt_to_mfn(mine), .domid = DOMID_SELF },
				 .len = PAGE_SIZE, .flags = GNTCOPY_source_gref };
	bool ok = true;
	u64 t = rdtsc();
	for (int i = 0; i < ROUNDS && ok; i++)
		ok = HYPERVISOR_grant_table_op(GNTTABOP_copy, &c, 1) == 0 && c.status == GNTST_okay;
	u64 copy = (rdtsc() - t) / ROUNDS;
	t = rdtsc();
	for (int i = 0; i < ROUNDS && ok; i++) {
		long h = gnttab_map(1, GNTTAB_NR_RESERVED_ENTRIES, BENCH_VA, false);
		memcpy(mine, (void *)BENCH_VA, PAGE_SIZE);
		ok = h >= 0 && gnttab_unmap(BENCH_VA, (grant_handle_t)h) == 0;
	}
	u64 map = (rdtsc() - t) / ROUNDS;
	t = rdtsc();
	for (int i = 0; i < ROUNDS / PAGES && ok; i++)
		ok = map_all(1);
	u64 single = (rdtsc() - t) / (ROUNDS / PAGES * PAGES);
	t = rdtsc();
	for (int i = 0; i < ROUNDS / PAGES && ok; i++)
		ok = map_all(PAGES);
	u64 batch = (rdtsc() - t) / (ROUNDS / PAGES * PAGES);
	evtchn_notify((unsigned)q);
	if (!check(ok, "every copy, map and unmap succeeded"))
		return;
	printf("BENCH grant-copy-page %lu\n", copy);
	printf("BENCH grant-map-read-unmap %lu\n", map);
	printf("BENCH grant-map-single %lu\n", single);
	printf("BENCH grant-map-batched %lu\n", batch);
}

TEST(test_bench_grants, "bench-grants", "grant copy vs map, batched vs single maps (lab 5)")
{
	if (!check(time_init() == 0 && gnttab_init() == 0, "shared info and grant table"))
		return;
	if (start_info->flags & SIF_INITDOMAIN)
		mapper();
	else
		granter();
}
