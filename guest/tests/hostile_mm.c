/*
 * Hostile memory management (issue 11): a domain attacks the hypervisor's accounting with
 * the pages the hypervisor itself writes, and with batches long enough to hog the CPU.
 * Every attempt must end in an error code for this domain alone; the audit must stay clean,
 * and teardown must give every frame back (the system tests reject any leak line).
 */
#include "guest/test.h"

#define FAR_VA 0x8000000000ULL	/* L4 slot 1: nothing of the builder's is there */
#define RW (PTE_P | PTE_W | PTE_U)
#define RO (PTE_P | PTE_U)

static void audit(void)
{
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_audit, 0), 0, "the audit finds every count right");
}

static long update(u64 ptr, u64 val)
{
	struct mmu_update u = { ptr | MMU_NORMAL_PT_UPDATE, val };
	return HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
}

/* Machine address of the entry for va in the level-`level` table of the current space
 * (the tables down to that level must exist). */
static u64 entry_ma(u64 va, int level)
{
	u64 table = current_l4();
	for (int l = 4; l > level; l--)
		table = PTE_MFN(((pte_t *)mfn_to_virt(table))[PT_INDEX(va, l)]);
	return (table << PAGE_SHIFT) + PT_INDEX(va, level) * 8;
}

/* Try every way of making frame `mfn` a page table; each must be refused with -EBUSY (it
 * holds a writable type reference the hypervisor never gives up). */
static void not_a_table(u64 mfn, const char *name)
{
	for (unsigned lvl = 1; lvl <= 4; lvl++)
		check_eq(mmuext(MMUEXT_PIN_L1_TABLE + lvl - 1, mfn), -XEN_EBUSY,
			 lvl == 1 ? "pin it as an L1: -EBUSY" : lvl == 2 ? "... as an L2: -EBUSY" :
			 lvl == 3 ? "... as an L3: -EBUSY" : "... as an L4: -EBUSY");
	/* FAR_VA's L3, L2 and L1 exist (the caller mapped a page there); the slots after
	 * FAR_VA's at each level are empty. */
	check_eq(update(entry_ma(FAR_VA, 2) + 8, (mfn << PAGE_SHIFT) | RW), -XEN_EBUSY,
		 "hook it into an L2 (so as an L1): -EBUSY");
	check_eq(update(entry_ma(FAR_VA, 3) + 8, (mfn << PAGE_SHIFT) | RO), -XEN_EBUSY,
		 "hook it read-only into an L3 (so as an L2): -EBUSY");
	check_eq(update(entry_ma(FAR_VA, 4) + 8, (mfn << PAGE_SHIFT) | RW), -XEN_EBUSY,
		 "hook it into the L4 (so as an L3): -EBUSY");
	check_eq(update(mfn << PAGE_SHIFT, 0), -XEN_EINVAL, "write into it as if it were a table: -EINVAL");
	printf("(%s survived)\n", name);
}

TEST(test_shared_info_hostile, "shared-info-hostile", "shared info can never become a page table")
{
	u64 si = start_info->shared_info >> PAGE_SHIFT;
	u64 *page = alloc_page();
	check_eq(map_page(current_l4(), FAR_VA, virt_to_mfn(page), RW), 0, "make tables at FAR_VA (control)");
	not_a_table(si, "never mapped");
	/* Mapped writable it must be (that is what it is for); the type stays writable. */
	check_eq(map_page(current_l4(), FAR_VA + PAGE_SIZE, si, RW), 0, "map shared info writable: allowed");
	volatile struct shared_info *s = (void *)(FAR_VA + PAGE_SIZE);
	check(s->vcpu_info[0].time.version != 0 || s->wc_version != 0,
	      "it shows the hypervisor's records (time version %u)", s->vcpu_info[0].time.version);
	not_a_table(si, "mapped writable");
	check_eq(unmap_page(current_l4(), FAR_VA + PAGE_SIZE), 0, "unmap it again");
	check_eq(map_page(current_l4(), FAR_VA + PAGE_SIZE, si, RO), 0, "map it read-only: allowed");
	not_a_table(si, "mapped read-only");
	check_eq(unmap_page(current_l4(), FAR_VA + PAGE_SIZE), 0, "unmap it");
	not_a_table(si, "unmapped again");
	/* A table prepared while still writable, naming shared info, then pinned: validation
	 * must refuse it, and undo what it took for the entries before. */
	u64 *t = alloc_page();
	t[0] = (virt_to_mfn(page) << PAGE_SHIFT) | RO;	/* a good entry first */
	t[1] = (si << PAGE_SHIFT) | RW;
	u64 tm = virt_to_mfn(t);
	check_eq(HYPERVISOR_update_va_mapping((u64)t, (tm << PAGE_SHIFT) | RO, UVMF_INVLPG), 0,
		 "make a prepared table read-only");
	check_eq(mmuext(MMUEXT_PIN_L2_TABLE, tm), -XEN_EBUSY, "pin it as an L2 (shared info as its L1): -EBUSY");
	check_eq(mmuext(MMUEXT_PIN_L3_TABLE, tm), -XEN_EBUSY, "pin it as an L3 (shared info as its L2): -EBUSY");
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, tm), 0, "as an L1 (shared info as a page) it is fine");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, tm), 0, "unpin it");
	audit();
	/* Leave shared info mapped writable: teardown must still give every frame back. */
	check_eq(map_page(current_l4(), FAR_VA + PAGE_SIZE, si, RW), 0, "map it writable for the teardown");
	audit();
}

/* start_info and the hypercall page are written by the builder only, before we run: they
 * are ordinary pages of ours, mapped writable, so the ordinary rules refuse them as tables. */
TEST(test_boot_pages_hostile, "boot-pages-hostile", "start_info and the hypercall page follow the rules")
{
	u64 si = virt_to_mfn(start_info), hp = virt_to_mfn(hypercall_page);
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, si), -XEN_EBUSY, "pin start_info (mapped writable) as an L1: -EBUSY");
	check_eq(mmuext(MMUEXT_PIN_L4_TABLE, si), -XEN_EBUSY, "... as an L4: -EBUSY");
	check_eq(mmuext(MMUEXT_PIN_L2_TABLE, hp), -XEN_EBUSY, "pin the hypercall page as an L2: -EBUSY");
	check_eq(mmuext(MMUEXT_PIN_L3_TABLE, hp), -XEN_EBUSY, "... as an L3: -EBUSY");
	check_eq(HYPERVISOR_xen_version(XENVER_version, NULL) > 0, 1, "hypercalls still work");
	audit();
}
