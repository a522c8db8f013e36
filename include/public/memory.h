/*
 * memory_op(int cmd, void *arg): a domain's memory reservation (Xen's public/memory.h).
 * Included by public/xen.h; do not include it on its own.                       lab 7
 *
 * A PV domain's reservation is the set of machine frames it owns (tot_pages of them, at
 * most max_pages).  A balloon driver gives frames back (decrease_reservation) and asks for
 * frames again (populate_physmap, increase_reservation).  The guest owns its P2M
 * (start_info.mfn_list) and keeps it right itself; the hypervisor keeps the M2P (machine
 * frame -> pfn) of every frame it hands out or takes back.
 *
 * The reservation operations take a struct xen_memory_reservation and work on a list of
 * nr_extents *extents*, each 2^extent_order frames.  They return the number of extents
 * done: a result below nr_extents is a partial failure, the extents from there on were not
 * touched (each extent is all or nothing).  They stop at the first extent that
 *   decrease: names a frame that is not the domain's own, or that something still holds: a
 *             mapping or any type (a page table, a page the hypervisor writes such as
 *             shared info), or the start_info or hypercall page;
 *   increase/populate: would take tot_pages above max_pages, or finds no free frame;
 *   populate: names a pfn at or above start_info.nr_pages;
 *   any: cannot read its extent_start entry, or write it back (OUT).
 * Or, with nothing done, they return
 *     -XEN_EFAULT  arg cannot be read
 *     -XEN_EINVAL  extent_order > XENMEM_MAX_ORDER, nr_extents > XENMEM_MAX_EXTENTS,
 *                  mem_flags != 0, or a continuation's start beyond nr_extents
 *     -XEN_EPERM   domid is another domain and the caller is not dom0
 *     -XEN_ESRCH   domid names no running domain
 *     -XEN_ENOSYS  an unknown cmd
 * Frames a domain gives back are zeroed before any domain gets them again.
 *
 * pvlab: increase_reservation and populate_physmap allocate order-0 extents only (its
 * frame allocator keeps no contiguous runs; Xen allows a domU order 9 when machine-
 * contiguous frames exist): a larger order up to XENMEM_MAX_ORDER does 0 extents.
 *
 * A long list is preempted between extents and continued (Xen's continuation): the
 * hypervisor re-issues the call with the extents done so far in cmd's bits
 * MEMOP_EXTENT_SHIFT and up; a guest always passes them as 0.
 */
#define MEMOP_EXTENT_SHIFT	6
#define MEMOP_CMD_MASK		((1U << MEMOP_EXTENT_SHIFT) - 1)
#define XENMEM_MAX_ORDER	9		/* Xen's limit for a domU: 2 MiB extents */
#define XENMEM_MAX_EXTENTS	(1UL << 20)	/* pvlab: longest extent list */

/* XENMEM_increase_reservation: nr_extents new frames for domid.  extent_start may be NULL
 * (0): the guest then does not learn the mfns; else OUT extent_start[i] = the new mfn. */
#define XENMEM_increase_reservation	0
/* XENMEM_decrease_reservation: give back extent_start[i] .. + 2^extent_order - 1, machine
 * frame numbers (IN) of domid (a PV guest names frames by mfn). */
#define XENMEM_decrease_reservation	1
/* XENMEM_populate_physmap: IN extent_start[i] = a pfn; a new frame is allocated for it,
 * the M2P set to that pfn, and OUT extent_start[i] = its mfn (the guest then maps it and
 * sets its own P2M entry). */
#define XENMEM_populate_physmap		6
struct xen_memory_reservation {
	u64 extent_start;	/* IN: guest virtual address of an xen_pfn_t[nr_extents] */
	u64 nr_extents;		/* IN */
	u32 extent_order;	/* IN: extents of 2^extent_order frames */
	u32 mem_flags;		/* IN: 0 (Xen's address-width and NUMA flags: not in pvlab) */
	domid_t domid;		/* IN: DOMID_SELF (dom0 may name another domain) */
};
STATIC_ASSERT(sizeof(struct xen_memory_reservation) == 32);
STATIC_ASSERT(__builtin_offsetof(struct xen_memory_reservation, domid) == 24);

/* XENMEM_current_reservation, XENMEM_maximum_reservation: arg points at a domid_t (IN:
 * DOMID_SELF, or any domain for dom0).  Return tot_pages, resp. max_pages, of it; or
 * -XEN_EFAULT, -XEN_EPERM, -XEN_ESRCH as above. */
#define XENMEM_current_reservation	3
#define XENMEM_maximum_reservation	4
