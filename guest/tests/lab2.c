/*
 * Lab 2: direct paging.  Each test ends with the hypervisor's audit, which recounts every
 * reference of this domain from its live page tables and must find nothing wrong.
 */
#include "guest/test.h"

#define FAR_VA 0x8000000000ULL	/* L4 slot 1: a map here needs new L3, L2 and L1 tables */
#define MID_VA 0x40000000ULL	/* L3 slot 1 of the first L4 slot: new L2 and L1 */
#define NO_TABLES_VA 0x10000000000ULL	/* L4 slot 2: never mapped */
#define NONCANONICAL 0x8000000000000000ULL
#define RW (PTE_P | PTE_W | PTE_U)
#define RO (PTE_P | PTE_U)


/* Ring 3 reads *arg (returns it). */
static long user_read(void *arg)
{
	return (long)*(volatile u64 *)arg;
}

static void audit(void)
{
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_audit, 0), 0, "the audit finds every count right");
}

/* The machine address of the L1 entry that maps va in the live tables. */
static u64 pte_ma(u64 va)
{
	pte_t *pte = find_pte(current_l4(), va);
	return (virt_to_mfn(pte) << PAGE_SHIFT) + ((u64)pte & (PAGE_SIZE - 1));
}

/* Only the hypervisor side, on the tables the domain builder made: no guest code of lab 2. */
TEST(test_pt_hypercalls, "pt-hypercalls", "the three hypercalls on the builder's tables")
{
	u64 *page = alloc_page(), *other = alloc_page(), *table = alloc_page();
	u64 va = (u64)page, mfn = virt_to_mfn(page), other_mfn = virt_to_mfn(other);
	u64 pt_mfn = virt_to_mfn((void *)start_info->pt_base);	/* our L4 */
	page[0] = 0xaaaa, other[0] = 0xbbbb;
	check_eq(HYPERVISOR_update_va_mapping(va, (other_mfn << PAGE_SHIFT) | RO, UVMF_INVLPG), 0,
		 "update_va_mapping: point a page's address at another page, read-only");
	check_eq(read_fault((u64 *)va), -1, "... it reads");
	check_eq((long)*(volatile u64 *)va, 0xbbbb, "... the other page");
	check_eq(write_fault((u64 *)va, 1), EXC_PF, "... and faults on a write");
	struct mmu_update u = { pte_ma(va) | MMU_NORMAL_PT_UPDATE, (mfn << PAGE_SHIFT) | RW };
	unsigned done = 99;
	check_eq(HYPERVISOR_mmu_update(&u, 1, &done, DOMID_SELF), 0, "mmu_update: point it back, writable");
	check_eq(done, 1, "... one update done");
	check_eq((long)*(volatile u64 *)va, 0xaaaa, "... it shows its own page again");
	check_eq(HYPERVISOR_update_va_mapping(va, (pt_mfn << PAGE_SHIFT) | RW, UVMF_INVLPG), -XEN_EBUSY,
		 "map our L4 writable: -EBUSY");
	check_eq(HYPERVISOR_update_va_mapping(va, (0x100ULL << PAGE_SHIFT) | RO, UVMF_INVLPG), -XEN_EINVAL,
		 "map the hypervisor's frame: -EINVAL");
	u64 tmfn = virt_to_mfn(table);
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, tmfn), -XEN_EBUSY, "pin a page that is mapped writable: -EBUSY");
	check_eq(HYPERVISOR_update_va_mapping((u64)table, (tmfn << PAGE_SHIFT) | RO, UVMF_INVLPG), 0,
		 "make an empty page read-only");
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, tmfn), 0, "mmuext_op: pin it as an L1 table");
	audit();
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, tmfn), 0, "mmuext_op: unpin it");
	check_eq(HYPERVISOR_update_va_mapping((u64)table, (tmfn << PAGE_SHIFT) | RW, UVMF_INVLPG), 0,
		 "make it writable again");
	audit();
}

TEST(test_pt_map, "pt-map", "map, unmap and remap pages, with new tables at every level")
{
	u64 *page = alloc_page();
	u64 mfn = virt_to_mfn(page);
	page[0] = 0x1234;
	check_eq(map_page(current_l4(), FAR_VA, mfn, RW), 0, "map a page far away (new L3, L2, L1)");
	check_eq((long)*(volatile u64 *)FAR_VA, 0x1234, "it shows the page's contents");
	*(volatile u64 *)FAR_VA = 0x5678;
	check_eq((long)page[0], 0x5678, "a write through it reaches the page");
	check_eq(run_in_user_mode(user_read, (void *)FAR_VA), 0x5678,
		 "user mode reads it too (the new tables are hooked in user)");
	check_eq(map_page(current_l4(), MID_VA, mfn, RO), 0, "map it again read-only (new L2, L1)");
	check_eq(read_fault((u64 *)MID_VA), -1, "the read-only mapping reads");
	check_eq(write_fault((u64 *)MID_VA, 1), EXC_PF, "... and faults on a write");
	check_eq(unmap_page(current_l4(), FAR_VA), 0, "unmap the first mapping");
	check_eq(read_fault((u64 *)FAR_VA), EXC_PF, "the unmapped address faults");
	check_eq(map_page(current_l4(), FAR_VA, mfn, RW), 0, "map it back (tables already there)");
	check_eq((long)*(volatile u64 *)FAR_VA, 0x5678, "it shows the page again");
	check_eq(unmap_page(current_l4(), FAR_VA), 0, "unmap");
	check_eq(unmap_page(current_l4(), MID_VA), 0, "unmap the read-only one");
	check_eq(unmap_page(current_l4(), NO_TABLES_VA), -XEN_EINVAL, "unmap where no table maps anything: -EINVAL");
	audit();
}

TEST(test_pt_switch, "pt-switch", "build an address space, switch to it and back")
{
	u64 old = current_l4();
	u64 l4 = new_address_space();
	if (!check(l4 != 0, "a new pinned L4 sharing our lower tables"))
		return;
	u64 *page = alloc_page();
	page[0] = 0xfeed;
	check_eq(map_page(l4, FAR_VA, virt_to_mfn(page), RW), 0, "map a page only in the new space");
	check_eq(mmuext(MMUEXT_NEW_BASEPTR, l4), 0, "NEW_BASEPTR to the new space");
	check(current_l4() == l4, "CR3 is the new table");
	check_eq((long)*(volatile u64 *)FAR_VA, 0xfeed, "the new mapping is there, and our code still runs");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, l4), -XEN_EBUSY, "unpinning the live base: -EBUSY");
	audit();
	check_eq(mmuext(MMUEXT_NEW_BASEPTR, old), 0, "NEW_BASEPTR back");
	check_eq(read_fault((u64 *)FAR_VA), EXC_PF, "the new space's mapping is not in the old one");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, l4), 0, "unpin the other space");
	audit();
}

TEST(test_pt_batch, "pt-batch", "many PTE updates in one mmu_update")
{
	static struct pt_batch b;
	enum { N = 100 };	/* more than one batch holds: pt_batch_add flushes on its own */
	u64 *pages[N];
	check_eq(map_page(current_l4(), FAR_VA, virt_to_mfn(alloc_page()), RW), 0, "make the tables");
	pte_t *pte = find_pte(current_l4(), FAR_VA);
	u64 l1_ma = (virt_to_mfn(pte) << PAGE_SHIFT) + ((u64)pte & (PAGE_SIZE - 1));
	for (int i = 0; i < N; i++) {
		pages[i] = alloc_page();
		pages[i][0] = (u64)i;
		pt_batch_add(&b, l1_ma + (u64)i * 8, (virt_to_mfn(pages[i]) << PAGE_SHIFT) | RW);
	}
	check_eq(pt_batch_flush(&b), 0, "100 updates, batched");
	int good = 0;
	for (int i = 0; i < N; i++)
		good += *(volatile u64 *)(FAR_VA + (u64)i * PAGE_SIZE) == (u64)i;
	check_eq(good, N, "all 100 pages are mapped where they belong");
	for (int i = 0; i < N; i++)
		pt_batch_add(&b, l1_ma + (u64)i * 8, 0);
	check_eq(pt_batch_flush(&b), 0, "and unmapped, batched");
	/* A batch that fails halfway says how far it got. */
	struct mmu_update u[3] = {
		{ l1_ma, (virt_to_mfn(pages[0]) << PAGE_SHIFT) | RW },
		{ l1_ma + 8, (0x100ULL << PAGE_SHIFT) | RW },	/* the hypervisor's frame */
		{ l1_ma + 16, (virt_to_mfn(pages[2]) << PAGE_SHIFT) | RW },
	};
	unsigned done = 99;
	check_eq(HYPERVISOR_mmu_update(u, 3, &done, DOMID_SELF), -XEN_EINVAL, "a bad entry in the middle fails");
	check_eq(done, 1, "... after exactly one update");
	check_eq(unmap_page(current_l4(), FAR_VA), 0, "clean up");
	audit();
}

TEST(test_pt_flush, "pt-flush", "update_va_mapping flush flags and TLB operations")
{
	u64 *a = alloc_page(), *b = alloc_page();
	a[0] = 0xa, b[0] = 0xb;
	check_eq(map_page(current_l4(), FAR_VA, virt_to_mfn(a), RW), 0, "map page a");
	check_eq((long)*(volatile u64 *)FAR_VA, 0xa, "see a");
	check_eq(HYPERVISOR_update_va_mapping(FAR_VA, (virt_to_mfn(b) << PAGE_SHIFT) | RW, UVMF_INVLPG), 0,
		 "remap to b with UVMF_INVLPG");
	check_eq((long)*(volatile u64 *)FAR_VA, 0xb, "after the flush, see b");
	check_eq(HYPERVISOR_update_va_mapping(FAR_VA, 0, UVMF_TLB_FLUSH), 0, "unmap with UVMF_TLB_FLUSH");
	check_eq(read_fault((u64 *)FAR_VA), EXC_PF, "after the flush, nothing is mapped");
	check_eq(mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0), 0, "TLB_FLUSH_LOCAL");
	check_eq(mmuext(MMUEXT_INVLPG_LOCAL, FAR_VA), 0, "INVLPG_LOCAL");
	check_eq(HYPERVISOR_update_va_mapping(FAR_VA, 0, 0x100), -XEN_EINVAL, "unknown flags: -EINVAL");
	audit();
}

TEST(test_pt_hostile, "pt-hostile", "every way to map what is not ours is refused")
{
	u64 l4 = current_l4(), *pt = (u64 *)start_info->pt_base;
	u64 pt_mfn = virt_to_mfn(pt);	/* our L4 */
	u64 l1_of_pt = virt_to_mfn(find_pte(l4, (u64)pt));
	u64 mine = virt_to_mfn(alloc_page());
	check_eq(map_page(l4, FAR_VA, mine, RW), 0, "an ordinary mapping works (control)");
	pte_t *slot = find_pte(l4, FAR_VA);
	u64 slot_ma = (virt_to_mfn(slot) << PAGE_SHIFT) + ((u64)slot & (PAGE_SIZE - 1));
	struct mmu_update u;
	unsigned done;
#define UPDATE(ptr_, val_) (u = (struct mmu_update){ (ptr_), (val_) }, HYPERVISOR_mmu_update(&u, 1, &done, DOMID_SELF))

	check_eq(UPDATE(slot_ma, (pt_mfn << PAGE_SHIFT) | RW), -XEN_EBUSY, "map our pinned L4 writable: -EBUSY");
	check_eq(UPDATE(slot_ma, (l1_of_pt << PAGE_SHIFT) | RW), -XEN_EBUSY, "map an in-use L1 writable: -EBUSY");
	check_eq(UPDATE(slot_ma, (pt_mfn << PAGE_SHIFT) | RO), 0, "map our L4 read-only: allowed");
	u64 w = virt_to_mfn(alloc_page());	/* mapped writable by the builder's tables */
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, w), -XEN_EBUSY, "pin a page mapped writable as L1: -EBUSY (XSA-224)");
	check_eq(mmuext(MMUEXT_PIN_L4_TABLE, pt_mfn), -XEN_EINVAL, "pin an already pinned table: -EINVAL");
	check_eq(UPDATE(slot_ma, (0x100ULL << PAGE_SHIFT) | RO), -XEN_EINVAL, "map the hypervisor's frame: -EINVAL");
	u64 lowest = ~0ULL;
	for (u64 i = 0; i < start_info->nr_pages; i++)
		lowest = MIN(lowest, phys_to_machine[i]);
	check_eq(UPDATE(slot_ma, ((lowest - 1) << PAGE_SHIFT) | RO), -XEN_EINVAL,
		 "map a frame just below ours (another domain's or the hypervisor's): -EINVAL");
	check_eq(UPDATE(slot_ma, (1ULL << 40) | RO), -XEN_EINVAL, "map a frame beyond memory: -EINVAL");
	check_eq(UPDATE(slot_ma, (mine << PAGE_SHIFT) | RW | BIT(52)), -XEN_EINVAL, "a reserved PTE bit: -EINVAL");
	check_eq(UPDATE(slot_ma, (mine << PAGE_SHIFT) | RW | BIT(60)), -XEN_EINVAL, "PTE bit 60 (reserved here): -EINVAL");
	pte_t *l2e = (pte_t *)mfn_to_virt(PTE_MFN(((pte_t *)mfn_to_virt(PTE_MFN(((pte_t *)pt)[PT_INDEX(FAR_VA, 4)])))[PT_INDEX(FAR_VA, 3)]));
	u64 l2_ma = (virt_to_mfn(l2e) << PAGE_SHIFT) + PT_INDEX(FAR_VA + LARGE_PAGE_SIZE, 2) * 8;
	check_eq(UPDATE(l2_ma, (mine << PAGE_SHIFT) | RW | PTE_PS), -XEN_EINVAL, "a 2 MiB superpage: -EINVAL");
	check_eq(UPDATE(slot_ma + 4, (mine << PAGE_SHIFT) | RW), -XEN_EINVAL, "a misaligned ptr: -EINVAL");
	check_eq(UPDATE((mine << PAGE_SHIFT), (mine << PAGE_SHIFT) | RW), -XEN_EINVAL,
		 "ptr into a page that is not a table: -EINVAL");
	check_eq(UPDATE(0x100000ULL, 0), -XEN_EINVAL, "ptr into the hypervisor: -EINVAL");
	u64 self_ma = (pt_mfn << PAGE_SHIFT) + 256 * 8;
	check_eq(UPDATE(self_ma, (pt_mfn << PAGE_SHIFT) | RO), -XEN_EBUSY,
		 "a read-only linear self-map of the L4: -EBUSY (XSA-182)");
	check_eq(UPDATE(self_ma, (pt_mfn << PAGE_SHIFT) | RW), -XEN_EBUSY, "a writable one: -EBUSY (XSA-182)");
	u64 other = new_address_space();
	check_eq(UPDATE(self_ma, (other << PAGE_SHIFT) | RO), -XEN_EBUSY,
		 "an L4 entry pointing at another L4 (a linear chain): -EBUSY (XSA-240)");
	/* A table that already maps itself before it is ever pinned (XSA-182 again).  Above L1
	 * the given prevalidation refuses it whatever get_page_type() does (it types the frame
	 * one level down first); at L1 only a get_page_type() that claims the type before
	 * validating the entries does. */
	u64 *selfish = alloc_page();
	u64 selfish_mfn = virt_to_mfn(selfish);
	selfish[256] = (selfish_mfn << PAGE_SHIFT) | RO;
	check_eq(HYPERVISOR_update_va_mapping((u64)selfish, (selfish_mfn << PAGE_SHIFT) | RO, UVMF_INVLPG), 0,
		 "a page holding a self-map, made read-only");
	check_eq(mmuext(MMUEXT_PIN_L4_TABLE, selfish_mfn), -XEN_EBUSY, "pin it as an L4: -EBUSY (XSA-182)");
	u64 *selfl1 = alloc_page();
	u64 selfl1_mfn = virt_to_mfn(selfl1);
	selfl1[7] = (selfl1_mfn << PAGE_SHIFT) | RW;
	check_eq(HYPERVISOR_update_va_mapping((u64)selfl1, (selfl1_mfn << PAGE_SHIFT) | RO, UVMF_INVLPG), 0,
		 "a page holding a writable map of itself, made read-only");
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, selfl1_mfn), -XEN_EBUSY,
		 "pin it as an L1 (a writable map of a live table): -EBUSY (XSA-182)");
	check_eq(HYPERVISOR_update_va_mapping((u64)selfl1, (selfl1_mfn << PAGE_SHIFT) | RW, UVMF_INVLPG), 0,
		 "... and it maps writable again: the refused pin left no type behind");
	/* A validation that fails must leave the frame as it found it, untyped. */
	u64 *badl1 = alloc_page();
	u64 badl1_mfn = virt_to_mfn(badl1);
	badl1[3] = (0x100ULL << PAGE_SHIFT) | RO;	/* the hypervisor's frame */
	check_eq(HYPERVISOR_update_va_mapping((u64)badl1, (badl1_mfn << PAGE_SHIFT) | RO, UVMF_INVLPG), 0,
		 "a page mapping the hypervisor's frame, made read-only");
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, badl1_mfn), -XEN_EINVAL, "pin it as an L1: -EINVAL");
	check_eq(HYPERVISOR_update_va_mapping((u64)badl1, (badl1_mfn << PAGE_SHIFT) | RW, UVMF_INVLPG), 0,
		 "... and it maps writable again: the failed validation left no type behind");
	u64 bare = new_table();
	check_eq(mmuext(MMUEXT_NEW_BASEPTR, bare), -XEN_EINVAL, "NEW_BASEPTR to an unpinned table: -EINVAL");
	check_eq(mmuext(MMUEXT_NEW_BASEPTR, 0x100), -XEN_EINVAL, "NEW_BASEPTR to the hypervisor's frame: -EINVAL");
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, bare), 0, "pin a table as L1");
	check_eq(mmuext(MMUEXT_NEW_BASEPTR, bare), -XEN_EINVAL, "NEW_BASEPTR to a pinned L1: -EINVAL");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, bare), 0, "unpin it");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, other), 0, "unpin the other L4");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, 0x100), -XEN_EINVAL, "unpin the hypervisor's frame: -EINVAL");
	check_eq(mmuext(MMUEXT_INVLPG_LOCAL, 0x8000000000000000ULL), -XEN_EINVAL,
		 "INVLPG of a non-canonical address: -EINVAL (XSA-279)");
	check_eq(HYPERVISOR_update_va_mapping(0x8000000000000000ULL, 0, 0), -XEN_EINVAL,
		 "update_va_mapping of a non-canonical address: -EINVAL (XSA-279)");
	check_eq(HYPERVISOR_update_va_mapping(NONCANONICAL | FAR_VA, 0, 0), -XEN_EINVAL,
		 "update_va_mapping of a mapped address made non-canonical: -EINVAL");
	check(*slot & PTE_P, "... and the mapping it aliases is still there");
	check_eq(mmuext(99, 0), -XEN_ENOSYS, "an unknown mmuext command: -ENOSYS");
	check_eq(HYPERVISOR_mmu_update(&u, 4097, NULL, DOMID_SELF), -XEN_EINVAL, "4097 updates at once: -EINVAL");
	check_eq(_hypercall(__HYPERVISOR_mmuext_op, (u64)&u, 1ULL << 32, 0, DOMID_SELF, 0), -XEN_EINVAL,
		 "2^32 operations: -EINVAL");
	check_eq(HYPERVISOR_mmu_update(&u, 1, NULL, 0x7ff2), -XEN_EPERM, "updates for DOMID_XEN: -EPERM");
	struct mmuext_op ops[3] = { { .cmd = MMUEXT_TLB_FLUSH_LOCAL }, { .cmd = 99 }, { .cmd = MMUEXT_TLB_FLUSH_LOCAL } };
	check_eq(HYPERVISOR_mmuext_op(ops, 1, NULL, 0x7ff2), -XEN_EPERM, "mmuext_op for DOMID_XEN: -EPERM");
	domid_t me = start_info->flags & SIF_INITDOMAIN ? 0 : 1;	/* tests run d0 and d1 */
	check_eq(HYPERVISOR_mmuext_op(ops, 1, NULL, me ^ 1), -XEN_EPERM, "mmuext_op for the other domain: -EPERM");
	check_eq(HYPERVISOR_mmuext_op(ops, 1, NULL, me), 0, "mmuext_op for my own domid: allowed");
	done = 99;
	/* Start a fresh time slice, so that no continuation (which records *done on its way
	 * out) can write the count for a do_mmuext_op() that forgets to. */
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	check_eq(HYPERVISOR_mmuext_op(ops, 3, &done, DOMID_SELF), -XEN_ENOSYS, "a bad operation in the middle fails");
	check_eq(done, 1, "... after exactly one operation (*done)");
	check_eq(HYPERVISOR_mmu_update(NULL, 1, NULL, DOMID_SELF), -XEN_EFAULT, "requests at NULL: -EFAULT");
	check_eq(UPDATE(slot_ma, 0), 0, "unmap (clean up)");
	audit();
}
