/*
 * Lab 7: the balloon.  Each test starts by asking the hypervisor for our reservation (the
 * stub says -ENOSYS), and ends with the lab 2 audit, which must find every count right.
 */
#include "guest/test.h"

#define RW (PTE_P | PTE_W | PTE_U)
#define RO (PTE_P | PTE_U)
#define FAR_VA 0x8000000000ULL

static long free_frames(void)
{
	return HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_free_frames, 0);
}

static long res(unsigned cmd, domid_t dom)
{
	return HYPERVISOR_memory_op(cmd, &dom);
}
#define cur_res(dom) res(XENMEM_current_reservation, dom)
#define max_res(dom) res(XENMEM_maximum_reservation, dom)

/* One reservation call as a guest would make it. */
static long memop(unsigned cmd, xen_pfn_t *list, u64 n, unsigned order, domid_t dom)
{
	struct xen_memory_reservation r = {
		.extent_start = (u64)list, .nr_extents = n, .extent_order = order, .domid = dom,
	};
	return HYPERVISOR_memory_op(cmd, &r);
}

static void audit(void)
{
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_audit, 0), 0, "the audit finds every count right");
}


/* The first check of every test: fails on the stub. */
static bool reservation_is_all(void)
{
	return check_eq(cur_res(DOMID_SELF), (long)start_info->nr_pages,
			"current_reservation: all our pages") &&
	       check_eq(max_res(DOMID_SELF), (long)start_info->nr_pages, "maximum_reservation: the same");
}

/* Unmap our page p and invalidate its P2M entry (its frame is then held by nothing but
 * its allocation): its mfn. */
static u64 unmap(void *p)
{
	u64 mfn = virt_to_mfn(p);
	if (HYPERVISOR_update_va_mapping((u64)p, 0, UVMF_INVLPG) < 0)
		panic("cannot unmap %p", p);
	phys_to_machine[virt_to_pfn(p)] = INVALID_MFN;
	return mfn;
}

/* Map pfn to mfn writable again and set its P2M entry. */
static long remap(u64 pfn, u64 mfn)
{
	phys_to_machine[pfn] = mfn;
	return HYPERVISOR_update_va_mapping((u64)pfn_to_virt(pfn), (mfn << PAGE_SHIFT) | RW, UVMF_INVLPG);
}

static bool ours(u64 mfn)
{
	return mfn_to_pfn(mfn) != INVALID_PFN;
}

TEST(test_balloon_inflate, "balloon-inflate", "inflate by 600 pages and deflate back")
{
	if (!reservation_is_all())
		return;
	const long N = 600;	/* more than one batch */
	long f0 = free_frames(), held = cur_res(DOMID_SELF);
	u64 mfree = mm_free_pages();
	check_eq(balloon_set_target(held - N), held - N, "inflate: we hold 600 pages fewer");
	check_eq(free_frames() - f0, N, "the hypervisor's free count rose by 600");
	check_eq(cur_res(DOMID_SELF), held - N, "current_reservation fell by 600");
	check_eq(mm_free_pages(), mfree - N, "our free-page count fell by 600");
	check_eq(mm_ballooned_pages(), N, "600 pfns are ballooned out");
	long invalid = 0, first = -1;
	for (u64 pfn = 0; pfn < start_info->nr_pages; pfn++)
		if (phys_to_machine[pfn] == INVALID_MFN && mm_pfn_state(pfn) == PFN_BALLOONED)
			invalid++, first = first < 0 ? (long)pfn : first;
	check_eq(invalid, N, "... each with an invalid P2M entry");
	if (first >= 0)
		check_eq(read_fault(pfn_to_virt(first)), EXC_PF, "... and mapped nowhere");
	audit();
	check_eq(balloon_set_target(held), held, "deflate: we hold all our pages again");
	check_eq(free_frames(), f0, "the hypervisor's free count is back");
	check_eq(cur_res(DOMID_SELF), held, "current_reservation is back");
	check_eq(mm_free_pages(), mfree, "our free-page count is back");
	check_eq(mm_ballooned_pages(), 0, "nothing is ballooned out");
	/* Use every free page: each must be a distinct, working frame. */
	u64 **prev = NULL, n = 0, bad = 0;
	for (u64 **p; (p = alloc_page_try()); prev = p, n++) {
		p[0] = (u64 *)prev;
		p[1] = (u64 *)virt_to_pfn(p);
		p[511] = (u64 *)~virt_to_pfn(p);
	}
	check_eq((long)n, (long)mfree, "we can allocate every free page again");
	while (prev) {
		u64 **p = prev;
		bad += (u64)p[1] != virt_to_pfn(p) || (u64)p[511] != ~virt_to_pfn(p);
		prev = (u64 **)p[0];
		free_page(p);
	}
	check_eq((long)bad, 0, "each one keeps what we wrote (no two pfns share a frame)");
	audit();
}

TEST(test_balloon_max, "balloon-max", "a domain cannot grow beyond max_pages")
{
	if (!reservation_is_all())
		return;
	long held = cur_res(DOMID_SELF);
	check_eq(balloon_set_target(held - 10), held - 10, "inflate by 10 pages");
	static xen_pfn_t list[12];
	for (int i = 0; i < 12; i++)
		list[i] = 0xdead;
	long f0 = free_frames();
	check_eq(memop(XENMEM_increase_reservation, list, 11, 0, DOMID_SELF), 10,
		 "increase_reservation by 11 with room for 10: 10 extents");
	check_eq(cur_res(DOMID_SELF), held, "we are at max_pages");
	check_eq(f0 - free_frames(), 10, "10 frames left the free pool");
	check_eq((long)list[10], 0xdead, "the 11th entry is untouched");
	int fresh = 0;
	for (int i = 0; i < 10; i++)
		fresh += list[i] != 0xdead && !ours(list[i]);
	check_eq(fresh, 10, "the 10 entries are new mfns");
	check_eq(memop(XENMEM_increase_reservation, list + 11, 1, 0, DOMID_SELF), 0, "one more: 0 extents");
	u64 pfn = 0;
	while (pfn < start_info->nr_pages && mm_pfn_state(pfn) != PFN_BALLOONED)
		pfn++;
	list[11] = pfn;
	check_eq(memop(XENMEM_populate_physmap, list + 11, 1, 0, DOMID_SELF), 0, "populate_physmap at max_pages: 0");
	check_eq(free_frames(), f0 - 10, "nothing more left the pool");
	check_eq(memop(XENMEM_decrease_reservation, list, 10, 0, DOMID_SELF), 10, "give the 10 new frames back");
	check_eq(free_frames(), f0, "the pool is whole");
	check_eq(balloon_set_target(held), held, "deflate back");
	audit();
}

/* Two domains: d1 fills pages with a secret and gives them back; d0 (dom0, which may ask
 * about d1) then populates its own pfns and must find zeros. */
#define SECRET 0x5ec2e75ec2e75ec2ULL
#define LEAK_N 64

TEST(test_balloon_give, "balloon-give", "fill pages with a secret and give them back")
{
	if (!reservation_is_all())
		return;
	static xen_pfn_t list[LEAK_N];
	static u64 pfns[LEAK_N];
	for (int i = 0; i < LEAK_N; i++) {
		u64 *p = alloc_page();
		for (int j = 0; j < 512; j++)
			p[j] = SECRET;
		pfns[i] = virt_to_pfn(p);
		list[i] = unmap(p);
	}
	long done = memop(XENMEM_decrease_reservation, list, LEAK_N, 0, DOMID_SELF);
	check_eq(done, LEAK_N, "64 pages full of secrets given back");
	for (long i = 0; i < done; i++)
		mm_pfn_ballooned(pfns[i]);
	long f = free_frames();
	/* Stay alive until the other domain has taken as many frames (or a while has passed:
	 * a yield may last a host tick, so the bound is a few seconds). */
	for (int i = 0; i < 3000 && free_frames() > f - LEAK_N; i++)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	audit();
}

TEST(test_balloon_take, "balloon-take", "populate frames another domain gave back: zeros")
{
	if (!reservation_is_all())
		return;
	long held = cur_res(DOMID_SELF), max1 = max_res(1);
	check(max1 > LEAK_N, "dom0 may ask for d1's maximum_reservation");
	check_eq(cur_res(7), -XEN_ESRCH, "... and about no domain 7: -ESRCH");
	check_eq(balloon_set_target(held - LEAK_N), held - LEAK_N, "make room: inflate by 64");
	long c1 = 0;
	for (int i = 0; i < 3000 && (c1 = cur_res(1)) > max1 - LEAK_N; i++)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	check(c1 <= max1 - LEAK_N, "d1 gave 64 pages back (%ld of %ld)", c1, max1);
	/* dom0 may grow d1 (it has room now); the new frames are d1's, not ours. */
	static xen_pfn_t f1[2];
	check_eq(memop(XENMEM_increase_reservation, f1, 2, 0, 1), 2, "dom0 grows d1 by 2 frames");
	check_eq(cur_res(1), c1 + 2, "d1's current_reservation rose by 2");
	check_eq(memop(XENMEM_decrease_reservation, f1, 2, 0, DOMID_SELF), 0,
		 "dom0 giving back d1's frames as its own: refused");
	check_eq(memop(XENMEM_decrease_reservation, f1, 2, 0, 1), 2, "dom0 giving them back for d1");
	check_eq(cur_res(1), c1, "d1's reservation is as before");
	static xen_pfn_t list[LEAK_N];
	static u64 pfns[LEAK_N];
	int k = 0;
	for (u64 pfn = 0; pfn < start_info->nr_pages && k < LEAK_N; pfn++)
		if (mm_pfn_state(pfn) == PFN_BALLOONED)
			pfns[k] = list[k] = pfn, k++;
	long done = memop(XENMEM_populate_physmap, list, (u64)k, 0, DOMID_SELF);
	check_eq(done, LEAK_N, "populate our 64 pfns");
	long dirty = 0, mapped = 0;
	for (long i = 0; i < done; i++) {
		mapped += remap(pfns[i], list[i]) == 0;
		u64 *p = pfn_to_virt(pfns[i]);
		for (int j = 0; j < 512; j++)
			dirty += p[j] != 0;
		mm_pfn_populated(pfns[i]);
		free_page(p);
	}
	check_eq(mapped, done, "each new frame maps");
	check_eq(dirty, 0, "every word of every new frame is zero: nothing of d1 shows");
	check_eq(cur_res(DOMID_SELF), held, "we hold all our pages again");
	audit();
}

/* dom0 stays alive (and leaves the free pool alone) until d1, the domain under test, has
 * ended: a bystander that ended during the test would put its frames back in the pool. */
TEST(test_balloon_wait, "balloon-wait", "dom0 waits for d1 to end")
{
	if (!check(max_res(1) > 0, "dom0 may ask about d1"))
		return;
	int i = 0;
	while (i++ < 20000 && cur_res(1) > 0)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	check_eq(cur_res(1), -XEN_ESRCH, "d1 has ended: -ESRCH");
}

/* A raw decrease of one frame: extents done. */
static long give(u64 mfn, unsigned order)
{
	xen_pfn_t x = mfn;
	return memop(XENMEM_decrease_reservation, &x, 1, order, DOMID_SELF);
}

TEST(test_balloon_refuse, "balloon-refuse", "frames still in use or not ours are refused, untouched")
{
	if (!reservation_is_all())
		return;
	long f0 = free_frames(), held = cur_res(DOMID_SELF);
	u64 *p = alloc_page();
	p[0] = 0x77;
	check_eq(give(virt_to_mfn(p), 0), 0, "a page we still map: refused");
	check_eq((long)p[0], 0x77, "... and it still holds what we wrote");
	check_eq(HYPERVISOR_update_va_mapping((u64)p, (virt_to_mfn(p) << PAGE_SHIFT) | RO, UVMF_INVLPG), 0,
		 "map it read-only instead (no type, one mapping)");
	check_eq(give(virt_to_mfn(p), 0), 0, "a page we map read-only: refused");
	check_eq(HYPERVISOR_update_va_mapping((u64)p, (virt_to_mfn(p) << PAGE_SHIFT) | RW, UVMF_INVLPG), 0,
		 "map it writable again");
	u64 l4 = current_l4();
	check_eq(give(l4, 0), 0, "our pinned L4 (a page table, CR3): refused");
	check_eq(map_page(l4, FAR_VA, virt_to_mfn(p), RW), 0, "map a page far away (new tables)");
	u64 l1 = virt_to_mfn(find_pte(l4, FAR_VA));
	check_eq(give(l1, 0), 0, "an L1 table in use: refused");
	check_eq((long)*(volatile u64 *)FAR_VA, 0x77, "... and the mapping through it still works");
	check_eq(give(start_info->shared_info >> PAGE_SHIFT, 0), 0,
		 "the shared-info page (unmapped, but the hypervisor writes it): refused");
	/* start_info: unmap it so that only its allocation holds it; no printing until it is
	 * back (nothing below touches it). */
	struct start_info *si = start_info;
	u64 si_mfn = virt_to_mfn(si);
	long r1 = HYPERVISOR_update_va_mapping((u64)si, 0, UVMF_INVLPG);
	long r2 = give(si_mfn, 0);
	long r3 = HYPERVISOR_update_va_mapping((u64)si, (si_mfn << PAGE_SHIFT) | RW, UVMF_INVLPG);
	check_eq(r1, 0, "unmap start_info");
	check_eq(r2, 0, "the start_info page, unmapped: refused");
	check_eq(r3, 0, "map it back");
	check(!strcmp(start_info->magic, START_INFO_MAGIC), "start_info is intact");
	/* The hypercall page: map a copy in its place, so we can still make hypercalls. */
	u8 *copy = alloc_page();
	memcpy(copy, hypercall_page, PAGE_SIZE);
	u64 hc_mfn = virt_to_mfn(hypercall_page);
	r1 = HYPERVISOR_update_va_mapping((u64)hypercall_page, (virt_to_mfn(copy) << PAGE_SHIFT) | RW, UVMF_INVLPG);
	r2 = give(hc_mfn, 0);
	r3 = HYPERVISOR_update_va_mapping((u64)hypercall_page, (hc_mfn << PAGE_SHIFT) | RW, UVMF_INVLPG);
	check_eq(r1, 0, "map a copy of the hypercall page in its place");
	check_eq(r2, 0, "the hypercall page's frame, unmapped: refused");
	check_eq(r3, 0, "map it back");
	u64 lowest = ~0ULL;
	for (u64 i = 0; i < start_info->nr_pages; i++)
		lowest = MIN(lowest, phys_to_machine[i]);
	check_eq(give(lowest - 1, 0), 0, "the frame just below ours (another domain's or the hypervisor's): refused");
	check_eq(give(0x100, 0), 0, "a hypervisor frame: refused");
	check_eq(give(1ULL << 40, 0), 0, "a frame beyond memory: refused");
	check_eq(give(~0ULL, 9), 0, "an extent running past the end of the frame numbers: refused");
	/* An order-1 extent whose second frame is still mapped: all or nothing. */
	u64 *a = NULL, *b = NULL;
	for (int i = 0; i < 64 && !a; i++) {
		u64 *x = alloc_page(), *y = alloc_page();
		if (virt_to_mfn(y) == virt_to_mfn(x) + 1)
			a = x, b = y;
	}
	if (check(a != NULL, "two of our pages in machine-adjacent frames")) {
		a[0] = 0xaa, b[0] = 0xbb;
		u64 a_pfn = virt_to_pfn(a), a_mfn = unmap(a);
		check_eq(give(a_mfn, 1), 0, "an order-1 extent whose second frame is mapped: refused");
		check_eq(remap(a_pfn, a_mfn), 0, "the first frame is still ours: it maps again");
		check_eq((long)a[0], 0xaa, "... with its contents");
		check_eq((long)b[0], 0xbb, "the second is untouched");
	}
	check_eq(free_frames(), f0, "no frame went back to the hypervisor");
	check_eq(cur_res(DOMID_SELF), held, "our reservation is whole");
	check_eq(unmap_page(l4, FAR_VA), 0, "clean up");
	audit();
}

TEST(test_balloon_args, "balloon-args", "bad orders, counts, pointers and domains are refused, no side effect")
{
	if (!reservation_is_all())
		return;
	long held = cur_res(DOMID_SELF);
	u64 *p = alloc_page();
	u64 pfn = virt_to_pfn(p);
	static xen_pfn_t x;
	x = unmap(p);	/* a frame decrease would take */
	long f0 = free_frames();
	check_eq(memop(XENMEM_decrease_reservation, &x, 1, 10, DOMID_SELF), -XEN_EINVAL, "extent order 10: -EINVAL");
	check_eq(memop(XENMEM_decrease_reservation, &x, 1, 0xffffffff, DOMID_SELF), -XEN_EINVAL,
		 "extent order 2^32-1: -EINVAL");
	check_eq(memop(XENMEM_increase_reservation, NULL, 1, 10, DOMID_SELF), -XEN_EINVAL,
		 "increase with order 10: -EINVAL");
	check_eq(memop(XENMEM_decrease_reservation, &x, XENMEM_MAX_EXTENTS + 1, 0, DOMID_SELF), -XEN_EINVAL,
		 "nr_extents XENMEM_MAX_EXTENTS + 1: -EINVAL");
	check_eq(memop(XENMEM_populate_physmap, &x, 1ULL << 63, 0, DOMID_SELF), -XEN_EINVAL,
		 "nr_extents 2^63: -EINVAL");
	struct xen_memory_reservation r = { (u64)&x, 1, 0, 1, DOMID_SELF };
	check_eq(HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r), -XEN_EINVAL, "mem_flags 1: -EINVAL");
	check_eq(HYPERVISOR_memory_op(XENMEM_decrease_reservation | (2 << MEMOP_EXTENT_SHIFT), &(struct xen_memory_reservation){ (u64)&x, 1, 0, 0, DOMID_SELF }),
		 -XEN_EINVAL, "a continuation that starts beyond the list: -EINVAL");
	check_eq(HYPERVISOR_memory_op(XENMEM_decrease_reservation, NULL), -XEN_EFAULT, "reservation at NULL: -EFAULT");
	check_eq(HYPERVISOR_memory_op(XENMEM_decrease_reservation, (void *)0x8000000000000000ULL), -XEN_EFAULT,
		 "reservation at a non-canonical address: -EFAULT");
	check_eq(HYPERVISOR_memory_op(XENMEM_current_reservation, NULL), -XEN_EFAULT, "current_reservation(NULL): -EFAULT");
	check_eq(memop(XENMEM_decrease_reservation, NULL, 1, 0, DOMID_SELF), 0, "extent list at NULL: 0 extents");
	check_eq(memop(XENMEM_decrease_reservation, (xen_pfn_t *)0xffff800000000000ULL, 1, 0, DOMID_SELF), 0,
		 "extent list in the hypervisor: 0 extents");
	check_eq(memop(XENMEM_populate_physmap, NULL, 1, 0, DOMID_SELF), 0, "populate with the list at NULL: 0");
	check_eq(memop(XENMEM_decrease_reservation, &x, 1, 0, 0), -XEN_EPERM, "a domU naming dom0: -EPERM");
	check_eq(memop(XENMEM_increase_reservation, NULL, 1, 0, 5), -XEN_EPERM, "a domU naming domain 5: -EPERM");
	check_eq(cur_res(0), -XEN_EPERM, "current_reservation of dom0 from a domU: -EPERM");
	check_eq(max_res(0), -XEN_EPERM, "maximum_reservation of dom0 from a domU: -EPERM");
	check_eq(HYPERVISOR_memory_op(2, &x), -XEN_ENOSYS, "XENMEM 2 (maximum_ram_page, not provided): -ENOSYS");
	check_eq(HYPERVISOR_memory_op(63, &x), -XEN_ENOSYS, "XENMEM 63: -ENOSYS");
	check_eq(free_frames(), f0, "none of that freed or took a frame");
	check_eq(cur_res(DOMID_SELF), held, "our reservation is whole");
	/* Now make room for one page, and let increase fail on its OUT write. */
	check_eq(memop(XENMEM_decrease_reservation, &x, 1, 0, DOMID_SELF), 1, "the frame named all along goes back (control)");
	mm_pfn_ballooned(pfn);
	xen_pfn_t *ro = (xen_pfn_t *)start_info->pt_base;	/* our L4: readable, not writable */
	xen_pfn_t keep = ro[0];
	check_eq(memop(XENMEM_increase_reservation, ro, 1, 0, DOMID_SELF), 0,
		 "increase with a read-only extent list: 0 extents");
	check_eq(free_frames(), f0 + 1, "... and the frame it took is back in the pool");
	check_eq((long)(ro[0] == keep), 1, "... the list is unchanged");
	xen_pfn_t big = start_info->nr_pages;
	check_eq(memop(XENMEM_populate_physmap, &big, 1, 0, DOMID_SELF), 0, "populate pfn nr_pages: 0");
	big = ~0ULL;
	check_eq(memop(XENMEM_populate_physmap, &big, 1, 0, DOMID_SELF), 0, "populate pfn 2^64-1: 0");
	check_eq(memop(XENMEM_increase_reservation, &x, 1, 1, DOMID_SELF), 0,
		 "increase with order 1 (pvlab allocates order 0): 0");
	check_eq(free_frames(), f0 + 1, "no frame was taken");
	check_eq(balloon_set_target(held), held, "deflate back");
	audit();
}

TEST(test_balloon_partial, "balloon-partial", "a list that fails halfway reports how far it got")
{
	if (!reservation_is_all())
		return;
	long f0 = free_frames(), held = cur_res(DOMID_SELF);
	static xen_pfn_t list[4];
	u64 *pg[4], pfn[4];
	for (int i = 0; i < 4; i++) {
		pg[i] = alloc_page();
		pg[i][0] = 0x100 + (u64)i;
		pfn[i] = virt_to_pfn(pg[i]);
		list[i] = i == 2 ? virt_to_mfn(pg[i]) : unmap(pg[i]);	/* the third stays mapped */
	}
	u64 m3 = list[3];
	check_eq(memop(XENMEM_decrease_reservation, list, 4, 0, DOMID_SELF), 2,
		 "decrease [free, free, mapped, free]: 2 extents");
	check_eq(free_frames() - f0, 2, "2 frames went back");
	check_eq(cur_res(DOMID_SELF), held - 2, "our reservation fell by 2");
	check_eq((long)pg[2][0], 0x102, "the mapped page is intact");
	check_eq(remap(pfn[3], m3), 0, "the fourth frame, after the failure, is still ours");
	check_eq((long)pg[3][0], 0x103, "... with its contents");
	mm_pfn_ballooned(pfn[0]);
	mm_pfn_ballooned(pfn[1]);
	list[0] = pfn[0], list[1] = start_info->nr_pages + 5, list[2] = pfn[1];
	check_eq(memop(XENMEM_populate_physmap, list, 3, 0, DOMID_SELF), 1,
		 "populate [ballooned, beyond nr_pages, ballooned]: 1 extent");
	check_eq((long)list[2], (long)pfn[1], "the entry after the failure is untouched");
	check(!ours(list[0]) && list[0] != pfn[0], "the first entry is a new mfn");
	check_eq(remap(pfn[0], list[0]), 0, "map it");
	check_eq((long)pg[0][0], 0, "it reads zeros");
	mm_pfn_populated(pfn[0]);
	free_page(pg[0]);
	check_eq(cur_res(DOMID_SELF), held - 1, "our reservation");
	check_eq(balloon_set_target(held), held, "deflate the rest");
	check_eq(free_frames(), f0, "the pool is as before");
	audit();
}

TEST(test_balloon_low, "balloon-low", "balloon down to balloon_target=PAGES, keep running, shut down")
{
	if (!reservation_is_all())
		return;
	u64 target = 0;
	const char *t = test_option("balloon_target");
	if (!check(t && parse_size(t, &target) == 0, "balloon_target=PAGES on the command line"))
		return;
	long f0 = free_frames(), held = cur_res(DOMID_SELF);
	long floor = held - (long)mm_free_pages();	/* pages we use: they cannot go */
	long want = MAX((long)target, floor);
	check_eq(balloon_set_target(target), want, "inflate to the target (or every free page)");
	check_eq(cur_res(DOMID_SELF), want, "current_reservation agrees");
	check_eq(free_frames() - f0, held - want, "the hypervisor got every page we gave");
	printf("balloon-low: holding %ld of %ld pages\n", want, held);
	check(HYPERVISOR_xen_version(XENVER_version, NULL) > 0, "we still run and make hypercalls");
	audit();
}
