/*
 * The balloon driver (lab 7): the guest gives pages it does not need back to the
 * hypervisor (inflating the balloon) and takes pages back when it needs them (deflating).
 *
 * Inflate: take free pages from our own allocator -- so nothing in this kernel references
 * them any more -- unmap them (a mapping would keep the frame busy, and the hypervisor
 * refuses to take a frame anything still holds), mark their P2M entries invalid, and give
 * the frames back with XENMEM_decrease_reservation.  Deflate: ask for new frames for
 * ballooned-out pfns with XENMEM_populate_physmap, map them, set the P2M, and free the
 * pages into the allocator, so the kernel really can use them again.  The remappings of a
 * batch go in one multicall: one VM exit per page would cost more than the giving back.
 */
#include "guest/kernel.h"

#define RW (PTE_P | PTE_W | PTE_U)

u64 balloon_current(void)
{
	return start_info->nr_pages - mm_ballooned_pages();
}

/* One memory_op reservation call over list[0..n) on ourselves: extents done (0 on error). */
static long reservation(unsigned cmd, xen_pfn_t *list, u64 n)
{
	struct xen_memory_reservation r = {
		.extent_start = (u64)list, .nr_extents = n, .domid = DOMID_SELF,
	};
	long done = HYPERVISOR_memory_op(cmd, &r);
	return done < 0 ? 0 : done;
}

#if SOLUTION(7)
static struct mc_batch remaps;	/* one multicall of update_va_mapping per batch */
static void flush_pfns(void);

/* Queue: map pfn at its place in our address space to mfn again (or to nothing, for mfn
 * INVALID_MFN); set its P2M entry.  Done by the next flush_pfns(). */
static void set_pfn(u64 pfn, u64 mfn)
{
	u64 pte = mfn == INVALID_MFN ? 0 : (mfn << PAGE_SHIFT) | RW;
	if (remaps.n == ARRAY_SIZE(remaps.e))
		flush_pfns();	/* ourselves, so that every result is checked */
	mc_add(&remaps, __HYPERVISOR_update_va_mapping, (u64)pfn_to_virt(pfn), pte, UVMF_INVLPG, 0, 0);
	phys_to_machine[pfn] = mfn;
}

/* Make the queued remappings.  One that fails is a kernel bug (our own pages). */
static void flush_pfns(void)
{
	unsigned n = remaps.n;
	if (mc_flush(&remaps) < 0)
		panic("balloon: remapping failed");
	for (unsigned i = 0; i < n; i++)
		if ((long)remaps.e[i].result < 0)
			panic("balloon: cannot remap %lx", remaps.e[i].args[0]);
}
#else // SOLUTION(7)
/* Lab 7: helpers of your own go here. */
#endif // SOLUTION(7)

long balloon_inflate(u64 n)
{
	static xen_pfn_t mfns[BALLOON_BATCH];
	static u64 pfns[BALLOON_BATCH];
#if SOLUTION(7)
	u64 k = 0;
	for (; k < n && k < BALLOON_BATCH; k++) {
		void *p = alloc_page_try();
		if (!p)
			break;	/* nothing left to give */
		pfns[k] = virt_to_pfn(p);
		mfns[k] = phys_to_machine[pfns[k]];
		set_pfn(pfns[k], INVALID_MFN);
	}
	flush_pfns();
	long done = reservation(XENMEM_decrease_reservation, mfns, k);
	for (u64 i = 0; i < k; i++) {
		if ((long)i < done) {
			mm_pfn_ballooned(pfns[i]);
		} else {	/* refused: the page is ours again */
			set_pfn(pfns[i], mfns[i]);
			flush_pfns();
			free_page(pfn_to_virt(pfns[i]));
		}
	}
	return done;
#else // SOLUTION(7)
	/* Lab 7: take up to n (at most BALLOON_BATCH) pages with alloc_page_try(), unmap
	 * each (batched in a multicall: mc_add, mc_flush) and invalidate its P2M entry, give the frames back in one
	 * XENMEM_decrease_reservation, tell the allocator (mm_pfn_ballooned) about those that
	 * went, and take back those that did not.  Return how many went. */
	(void)n, (void)mfns, (void)pfns, (void)reservation;
	lab_todo("lab 7: balloon_inflate not implemented");
	return 0;
#endif // SOLUTION(7)
}

long balloon_deflate(u64 n)
{
	static xen_pfn_t list[BALLOON_BATCH];
	static u64 pfns[BALLOON_BATCH];
#if SOLUTION(7)
	u64 k = 0;
	for (u64 pfn = start_info->nr_pages; pfn-- > 0 && k < n && k < BALLOON_BATCH;)
		if (mm_pfn_state(pfn) == PFN_BALLOONED)
			pfns[k] = list[k] = pfn, k++;
	long done = reservation(XENMEM_populate_physmap, list, k);
	for (long i = 0; i < done; i++)
		set_pfn(pfns[i], list[i]);	/* populate wrote the new mfn over the pfn */
	flush_pfns();
	for (long i = 0; i < done; i++) {
		mm_pfn_populated(pfns[i]);
		free_page(pfn_to_virt(pfns[i]));
	}
	return done;
#else // SOLUTION(7)
	/* Lab 7: find up to n (at most BALLOON_BATCH) ballooned-out pfns (mm_pfn_state),
	 * XENMEM_populate_physmap them in one call, and for each one that came back: map its
	 * new frame, set its P2M entry, mm_pfn_populated() and free_page() it.  Return how
	 * many came back. */
	(void)n, (void)list, (void)pfns;
	lab_todo("lab 7: balloon_deflate not implemented");
	return 0;
#endif // SOLUTION(7)
}

/* Move towards holding `target` pages, a batch at a time, until there or stuck (nothing
 * left to give, or the hypervisor gives no more).  Returns the pages held afterwards. */
long balloon_set_target(u64 target)
{
	target = MIN(target, start_info->nr_pages);
	while (balloon_current() != target) {
		u64 cur = balloon_current();
		long moved = cur > target ? balloon_inflate(MIN(cur - target, BALLOON_BATCH))
					  : balloon_deflate(MIN(target - cur, BALLOON_BATCH));
		if (moved <= 0)
			break;
	}
	return (long)balloon_current();
}
