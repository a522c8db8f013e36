/*
 * Grant tables, the guest's side (lab 5): our table of grant entries, a free list of refs,
 * granting and revoking access to our frames, and mapping other domains' grants.
 * See include/public/grant_table.h for the protocol.
 */
#include "guest/kernel.h"

#define NR_REFS (GNTTAB_NR_FRAMES * (PAGE_SIZE / sizeof(struct grant_entry_v1)))
#define REF_END 0xffffffffU

struct grant_entry_v1 *gnttab;
/* The free list: free_next[ref] is the next free ref after ref, free_head the first.
 * gnttab_init() links refs 8, 9, ... in increasing order, so a fresh table's first grant
 * is ref GNTTAB_NR_RESERVED_ENTRIES. */
static grant_ref_t free_next[NR_REFS], free_head = REF_END;

/* Set up our grant table (GNTTABOP_setup_table), map its frames writable at GNTTAB_VA, and
 * link every unreserved ref into the free list.  0 or the error. */
long gnttab_init(void)
{
	xen_pfn_t frames[GNTTAB_NR_FRAMES];
	struct gnttab_setup_table s = { .dom = DOMID_SELF, .nr_frames = GNTTAB_NR_FRAMES,
					.frame_list = (u64)frames };
	long r = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &s, 1);
	if (r < 0 || s.status != GNTST_okay)
		return r < 0 ? r : s.status;
	for (unsigned i = 0; i < GNTTAB_NR_FRAMES; i++)
		if ((r = map_page(current_l4(), GNTTAB_VA + i * PAGE_SIZE, frames[i], PTE_P | PTE_W | PTE_NX)) < 0)
			return r;
	gnttab = (struct grant_entry_v1 *)GNTTAB_VA;
	free_head = REF_END;
	for (grant_ref_t ref = NR_REFS; ref-- > GNTTAB_NR_RESERVED_ENTRIES;)
		free_next[ref] = free_head, free_head = ref;
	return 0;
}

/* Let domain domid map or copy our frame mfn (read-only if `readonly`): a ref from the free
 * list, filled in.  The ref, or -XEN_ENOSPC when every ref is in use. */
long grant_foreign_access(domid_t domid, u64 mfn, bool readonly)
{
#if SOLUTION(5)
	if (free_head == REF_END)
		return -XEN_ENOSPC;
	grant_ref_t ref = free_head;
	free_head = free_next[ref];
	gnttab[ref].frame = (u32)mfn;
	gnttab[ref].domid = domid;
	/* The flags make the entry live: frame and domid must be visible first. */
	__atomic_store_n(&gnttab[ref].flags, GTF_permit_access | (readonly ? GTF_readonly : 0), __ATOMIC_RELEASE);
	return ref;
#else // SOLUTION(5)
	/* Lab 5: take a ref off the free list (free_head, free_next), write frame and domid,
	 * then -- last, with release ordering -- the flags. */
	(void)domid, (void)mfn, (void)readonly, (void)free_next;
	lab_todo("lab 5: grant_foreign_access not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(5)
}

/* Revoke ref: a compare-and-swap of its flags to 0 that fails while the hypervisor has it
 * in use (GTF_reading/GTF_writing); then the ref goes back on the free list.  0, -XEN_EBUSY
 * (in use: nothing changed) or -XEN_EINVAL (not a granted ref). */
long gnttab_end_foreign_access(grant_ref_t ref)
{
#if SOLUTION(5)
	if (ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= NR_REFS)
		return -XEN_EINVAL;
	u16 flags = __atomic_load_n(&gnttab[ref].flags, __ATOMIC_ACQUIRE);
	do {
		if ((flags & GTF_type_mask) != GTF_permit_access)
			return -XEN_EINVAL;
		if (flags & (GTF_reading | GTF_writing))
			return -XEN_EBUSY;
	} while (!__atomic_compare_exchange_n(&gnttab[ref].flags, &flags, 0, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	free_next[ref] = free_head;
	free_head = ref;
	return 0;
#else // SOLUTION(5)
	/* Lab 5: compare-and-swap the flags to 0, refusing (-XEN_EBUSY) while GTF_reading or
	 * GTF_writing is set; then put ref back on the free list. */
	(void)ref;
	lab_todo("lab 5: gnttab_end_foreign_access not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(5)
}

/* Make sure an L1 table covers va and nothing is mapped there (a grant mapping needs an
 * empty L1 entry).  0 or the error. */
long gnttab_prepare_va(u64 va)
{
	long r = map_page(current_l4(), va, virt_to_mfn(pfn_to_virt(0)), PTE_P | PTE_NX);
	return r < 0 ? r : unmap_page(current_l4(), va);
}

/* Map ref of domain dom at va (an empty L1 entry: gnttab_prepare_va()), read-only if
 * `readonly`.  The handle, or the GNTST_* status (negative), or a -XEN_* error. */
long gnttab_map(domid_t dom, grant_ref_t ref, u64 va, bool readonly)
{
#if SOLUTION(5)
	struct gnttab_map_grant_ref m = { .host_addr = va, .ref = ref, .dom = dom,
					  .flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0) };
	long r = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
	return r < 0 ? r : m.status != GNTST_okay ? m.status : (long)m.handle;
#else // SOLUTION(5)
	/* Lab 5: one GNTTABOP_map_grant_ref with GNTMAP_host_map (| GNTMAP_readonly). */
	(void)dom, (void)ref, (void)va, (void)readonly;
	lab_todo("lab 5: gnttab_map not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(5)
}

/* Undo gnttab_map(): 0, or the GNTST_* status, or a -XEN_* error. */
long gnttab_unmap(u64 va, grant_handle_t handle)
{
#if SOLUTION(5)
	struct gnttab_unmap_grant_ref u = { .host_addr = va, .handle = handle };
	long r = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
	return r < 0 ? r : u.status;
#else // SOLUTION(5)
	/* Lab 5: one GNTTABOP_unmap_grant_ref. */
	(void)va, (void)handle;
	lab_todo("lab 5: gnttab_unmap not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(5)
}
