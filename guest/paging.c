/*
 * The guest's paging layer (lab 2).  Our page tables hold machine frame numbers and are
 * mapped read-only: to change an entry we ask the hypervisor (mmu_update with the entry's
 * machine address, or update_va_mapping with the virtual address it maps), and it checks
 * that the new entry cannot give us anything that is not ours.
 */
#include "guest/kernel.h"

/* Search the P2M: the hypervisor's M2P is not mapped into guests (pvlab), so this is
 * O(pages); only page-table walks use it.  A ballooned-out pfn's entry is INVALID_MFN and
 * never matches. */
u64 mfn_to_pfn(u64 mfn)
{
	if (mfn == INVALID_MFN)
		return INVALID_PFN;
	for (u64 pfn = 0; pfn < start_info->nr_pages; pfn++)
		if (phys_to_machine[pfn] == mfn)
			return pfn;
	return INVALID_PFN;
}

/* Where frame mfn of ours is mapped; a foreign frame is a kernel bug here. */
void *mfn_to_virt(u64 mfn)
{
	u64 pfn = mfn_to_pfn(mfn);
	if (pfn == INVALID_PFN)
		panic("mfn %lx is not one of ours", mfn);
	return pfn_to_virt(pfn);
}

u64 current_l4(void)
{
	return read_cr3() >> PAGE_SHIFT;
}

long mmuext(unsigned cmd, u64 arg)
{
	struct mmuext_op op = { .cmd = cmd, .arg1.mfn = arg };
	return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

/* Set the PTE at machine address pte_ma to val: one validated update. */
static long set_pte(u64 pte_ma, u64 val)
{
	struct mmu_update u = { .ptr = pte_ma | MMU_NORMAL_PT_UPDATE, .val = val };
	return HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
}

/* A new page-table frame: zeroed while still writable, then remapped read-only so that
 * the hypervisor will accept it as a table (a frame mapped writable cannot be one).
 * Returns its mfn, or 0. */
u64 new_table(void)
{
#if SOLUTION(2)
	void *page = alloc_page();	/* zeroed */
	u64 mfn = virt_to_mfn(page);
	if (HYPERVISOR_update_va_mapping((u64)page, (mfn << PAGE_SHIFT) | PTE_P | PTE_U, UVMF_INVLPG) < 0)
		return 0;
	return mfn;
#else // SOLUTION(2)
	/* Lab 2: allocate a zeroed page and remap it read-only with update_va_mapping. */
	panic("lab 2: new_table not implemented");
#endif // SOLUTION(2)
}

pte_t *find_pte(u64 l4, u64 va)
{
	u64 table = l4;
	for (int level = 4; level > 1; level--) {
		pte_t e = ((pte_t *)mfn_to_virt(table))[PT_INDEX(va, level)];
		if (!(e & PTE_P))
			return NULL;
		table = PTE_MFN(e);
	}
	return (pte_t *)mfn_to_virt(table) + PT_INDEX(va, 1);
}

/* Map va to mfn with flags in the address space rooted at l4, creating the missing tables
 * on the way (hooked into their parents writable and user, like the builder's).
 * Returns 0 or the first hypercall error. */
long map_page(u64 l4, u64 va, u64 mfn, u64 flags)
{
#if SOLUTION(2)
	u64 table = l4;
	for (int level = 4; level > 1; level--) {
		pte_t *t = mfn_to_virt(table);
		pte_t e = t[PT_INDEX(va, level)];
		if (!(e & PTE_P)) {
			u64 child = new_table();
			if (!child)
				return -XEN_ENOMEM;
			e = (child << PAGE_SHIFT) | PTE_P | PTE_W | PTE_U;
			long r = set_pte((table << PAGE_SHIFT) + PT_INDEX(va, level) * 8, e);
			if (r < 0)
				return r;
		}
		table = PTE_MFN(e);
	}
	return set_pte((table << PAGE_SHIFT) + PT_INDEX(va, 1) * 8, (mfn << PAGE_SHIFT) | flags);
#else // SOLUTION(2)
	/* Lab 2: walk from l4; make and hook any missing table with new_table() and an
	 * mmu_update of the parent's entry; then set the L1 entry. */
	(void)l4, (void)va, (void)mfn, (void)flags, (void)set_pte;
	panic("lab 2: map_page not implemented");
#endif // SOLUTION(2)
}

long unmap_page(u64 l4, u64 va)
{
#if SOLUTION(2)
	pte_t *pte = find_pte(l4, va);
	if (!pte)
		return -XEN_EINVAL;
	u64 l1 = virt_to_mfn(pte);
	return set_pte((l1 << PAGE_SHIFT) + ((u64)pte & (PAGE_SIZE - 1)), 0);
#else // SOLUTION(2)
	/* Lab 2: clear the L1 entry that maps va (find_pte() finds it). */
	(void)l4, (void)va;
	panic("lab 2: unmap_page not implemented");
#endif // SOLUTION(2)
}

/* A new top-level table sharing everything below with the current one, pinned as an L4:
 * ready for MMUEXT_NEW_BASEPTR.  Returns its mfn, or 0. */
u64 new_address_space(void)
{
#if SOLUTION(2)
	u64 l4 = new_table();
	if (!l4)
		return 0;
	pte_t *cur = mfn_to_virt(current_l4());
	struct pt_batch b = { .n = 0 };
	for (int i = 0; i < PT_ENTRIES; i++)
		if (cur[i] & PTE_P)
			pt_batch_add(&b, (l4 << PAGE_SHIFT) + (u64)i * 8, cur[i]);
	/* The new table is already read-only to us, so it cannot be filled by hand: pin it
	 * while it is empty (trivially valid), then fill it through validated updates. */
	if (mmuext(MMUEXT_PIN_L4_TABLE, l4) < 0 || pt_batch_flush(&b) < 0)
		return 0;
	return l4;
#else // SOLUTION(2)
	/* Lab 2: new_table(), pin it as an L4, then copy the current L4's present entries
	 * into it with one batched mmu_update. */
	panic("lab 2: new_address_space not implemented");
#endif // SOLUTION(2)
}

void pt_batch_add(struct pt_batch *b, u64 pte_ma, u64 val)
{
#if SOLUTION(2)
	/* Nobody is left to hear an error of an automatic flush: like Linux's xen_mc_flush(),
	 * treat it as the kernel bug it is. */
	if (b->n == ARRAY_SIZE(b->u) && pt_batch_flush(b) < 0)
		panic("pt_batch_add: a full batch failed to flush");
	b->u[b->n++] = (struct mmu_update){ .ptr = pte_ma | MMU_NORMAL_PT_UPDATE, .val = val };
#else // SOLUTION(2)
	/* Lab 2: queue the update, flushing a full batch first. */
	(void)b, (void)pte_ma, (void)val;
	panic("lab 2: pt_batch_add not implemented");
#endif // SOLUTION(2)
}

long pt_batch_flush(struct pt_batch *b)
{
#if SOLUTION(2)
	unsigned done = 0;
	long r = b->n ? HYPERVISOR_mmu_update(b->u, b->n, &done, DOMID_SELF) : 0;
	if (r == 0 && done != b->n)
		r = -XEN_EIO;
	b->n = 0;
	return r;
#else // SOLUTION(2)
	/* Lab 2: one mmu_update for the whole batch; check that all of it was done. */
	(void)b;
	panic("lab 2: pt_batch_flush not implemented");
#endif // SOLUTION(2)
}
