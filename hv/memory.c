/*
 * memory_op (lab 7): a domain's reservation -- the machine frames it owns -- grows and
 * shrinks at run time, so that a balloon driver in the guest can give memory back to the
 * hypervisor and take it again (include/public/memory.h has the ABI).
 *
 * A frame may leave a domain only when nothing but its allocation holds it: no mapping (a
 * general reference), no type (a page table, or a page the hypervisor writes), and not one
 * of the pages the hypervisor itself relies on (start_info, the hypercall page).  Anything
 * else would leave a live mapping, or a table entry, pointing at a frame that the next
 * domain gets -- exactly the isolation lab 2 built.
 */
#include "hv/hv.h"

extern u64 *m2p;

/* Given: d gets a new frame, with its allocation reference, M2P entry `pfn` (~0: none)
 * and one more page in tot_pages.  INVALID_MFN when no frame is free.  The frame is
 * zeroed (page_alloc), so nothing of its last owner shows through. */
static mfn_t reservation_alloc(struct domain *d, u64 pfn)
{
	mfn_t m = page_alloc(d->id);
	if (m == INVALID_MFN)
		return m;
	frame_of(m)->count = 1;
	m2p[m] = pfn;
	d->tot_pages++;
	return m;
}

/* Given: take frame mfn away from d for good.  The caller has checked that only the
 * allocation reference holds it.  Its contents stay until page_alloc() zeroes it for the
 * next owner: every frame any domain gets passes through there (scrubbing here as well
 * would double the cost of giving a page back, measured by make bench). */
static void reservation_free(struct domain *d, mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	f->count = 0;
	f->flags = 0;
	m2p[mfn] = ~0ULL;
	d->tot_pages--;
	page_free(mfn);
}

#if SOLUTION(7)
/* May d give frame mfn back?  Only its own frame, held by nothing but its allocation. */
static bool removable(struct domain *d, mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	if (!f || f->owner != d->id)
		return false;
	if (f->count != 1 || f->type_count != 0 || (f->flags & (FRAME_PINNED | FRAME_XEN_SHARED)))
		return false;	/* mapped, a table, pinned, or written by us */
	return mfn != d->start_info_mfn && mfn != d->hypercall_mfn;
}

/* Give back the 2^order frames from mfn, all or none.  true if done. */
static bool decrease_one(struct domain *d, mfn_t mfn, unsigned order)
{
	u64 n = 1ULL << order;
	if (mfn + n < mfn)
		return false;
	for (u64 j = 0; j < n; j++)
		if (!removable(d, mfn + j))
			return false;
	for (u64 j = 0; j < n; j++)
		reservation_free(d, mfn + j);
	return true;
}

/* Extent i of r for d: decrease, increase or populate.  true if done. */
static bool reservation_one(struct vcpu *v, struct domain *d, unsigned op,
			    const struct xen_memory_reservation *r, u64 i)
{
	u64 where = r->extent_start + i * sizeof(xen_pfn_t);
	xen_pfn_t x = ~0ULL;
	if (op != XENMEM_increase_reservation && copy_from_guest(v, &x, where, sizeof(x)) < 0)
		return false;
	if (op == XENMEM_decrease_reservation)
		return decrease_one(d, x, r->extent_order);
	if (r->extent_order != 0 || d->tot_pages >= d->max_pages)
		return false;	/* pvlab allocates order 0 only: see public/memory.h */
	if (op == XENMEM_populate_physmap && x >= d->nr_pages)
		return false;
	mfn_t m = reservation_alloc(d, x);
	if (m == INVALID_MFN)
		return false;
	if (r->extent_start && copy_to_guest(v, where, &m, sizeof(m)) < 0) {
		reservation_free(d, m);	/* the guest could never learn it: undo */
		return false;
	}
	return true;
}

/* The domain domid names for v: itself, or (dom0 only) another running domain. */
static struct domain *memop_domain(struct vcpu *v, domid_t domid, long *err)
{
	if (domid == DOMID_SELF || domid == v->dom->id)
		return v->dom;
	*err = v->dom->privileged ? -XEN_ESRCH : -XEN_EPERM;
	return v->dom->privileged ? domain_by_id(domid) : NULL;
}

/* Increase, decrease or populate from extent `start` on; continued when preempted. */
static long memop_reservation(struct vcpu *v, unsigned op, u64 start, u64 arg)
{
	struct xen_memory_reservation r;
	long err = 0;
	if (copy_from_guest(v, &r, arg, sizeof(r)) < 0)
		return -XEN_EFAULT;
	if (r.extent_order > XENMEM_MAX_ORDER || r.nr_extents > XENMEM_MAX_EXTENTS || r.mem_flags ||
	    start > r.nr_extents)
		return -XEN_EINVAL;
	struct domain *d = memop_domain(v, r.domid, &err);
	if (!d)
		return err;
	for (u64 i = start; i < r.nr_extents; i++) {
		if (i > start && hypercall_preempt_check())
			return hypercall_create_continuation(v, __HYPERVISOR_memory_op,
							     op | (i << MEMOP_EXTENT_SHIFT), arg, 0, 0, 0);
		if (!reservation_one(v, d, op, &r, i))
			return (long)i;
	}
	return (long)r.nr_extents;
}
#else // SOLUTION(7)
/* Lab 7: helpers of your own go here. */
#endif // SOLUTION(7)

/* memory_op(cmd, arg): see include/public/memory.h. */
long do_memory_op(struct vcpu *v, u64 cmd, u64 arg, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
#if SOLUTION(7)
	unsigned op = cmd & MEMOP_CMD_MASK;
	u64 start = cmd >> MEMOP_EXTENT_SHIFT;
	domid_t domid;
	long err = 0;
	switch (op) {
	case XENMEM_increase_reservation:
	case XENMEM_decrease_reservation:
	case XENMEM_populate_physmap:
		return memop_reservation(v, op, start, arg);
	case XENMEM_current_reservation:
	case XENMEM_maximum_reservation: {
		if (start)
			return -XEN_ENOSYS;
		if (copy_from_guest(v, &domid, arg, sizeof(domid)) < 0)
			return -XEN_EFAULT;
		struct domain *d = memop_domain(v, domid, &err);
		if (!d)
			return err;
		return (long)(op == XENMEM_current_reservation ? d->tot_pages : d->max_pages);
	}
	}
	return -XEN_ENOSYS;
#else // SOLUTION(7)
	/* Lab 7: see include/public/memory.h and handouts/lab7-balloon.md.  Validate the
	 * reservation before touching anything; give back only frames that nothing but their
	 * allocation holds (reservation_free); allocate with reservation_alloc up to max_pages;
	 * return the extents done; stay preemptible between extents (the extents done go into
	 * cmd >> MEMOP_EXTENT_SHIFT of the continuation). */
	(void)cmd, (void)arg, (void)reservation_alloc, (void)reservation_free;
	lab_stub_warn(v, 7, "do_memory_op");
	return -XEN_ENOSYS;
#endif // SOLUTION(7)
}
