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

/* ---- CPU hogs (XSA-45): batches, and single requests, that would hold the CPU for seconds ---- */

#define MS 1000000UL
#define HOG_L1S 64			/* the batches' tree: 64 full L1s, about a slice to hook */
#define HOG_L1S_MAX 16384		/* l1s=N (bounds measurement): 64 MiB of L1 tables */
#define HOG_VA (2ULL << 39)		/* L4 slot 2, where the tree is hooked and unhooked */
#define WITNESS_FROM_MS 3000UL		/* the witness watches the clock from (at the latest) ...
					 * (Bochs' clock reads about 2.2 s at its boot) */
#define WITNESS_UNTIL_MS 5000UL		/* ... until this system time */
#define HOG_OVERLAP_MS 500UL		/* each hog's batch starts this long before that at least */
#define WITNESS_MAX_GAP_MS 100UL	/* 20 slices of 5 ms: without preemption, seconds */

static void no_event(unsigned port UNUSED)
{
}

/* PV time for both sides (shared info mapped, upcall registered). */
static bool clock_setup(void)
{
	long r = time_init();
	evtchn_set_handler(PVLAB_TIMER_PORT, no_event);
	return check_eq(r, 0, "map shared info for the PV clock");
}

/* A page made read-only (so it can become a table) after filling it with `fill` n times,
 * then `last` (if not 0) in its last entry. */
static u64 ro_table(u64 fill, int n, u64 last)
{
	u64 *t = alloc_page();
	for (int i = 0; i < n; i++)
		t[i] = fill;
	if (last)
		t[PT_ENTRIES - 1] = last;
	u64 m = virt_to_mfn(t);
	if (HYPERVISOR_update_va_mapping((u64)t, (m << PAGE_SHIFT) | RO, UVMF_INVLPG) < 0)
		return 0;
	return m;
}

/* An unpinned tree of nl1 full L1 tables (their last entries `last`, if not 0) under
 * nl1 / 512 L2s under one L3: its L3, or 0.  Hooking it validates nl1 * 512 entries. */
static u64 hog_tree(int nl1, u64 last)
{
	static u64 l1[HOG_L1S_MAX];
	u64 target = (virt_to_mfn(alloc_page()) << PAGE_SHIFT) | RO;
	for (int i = 0; i < nl1; i++) {
		if (!(l1[i] = ro_table(target, PT_ENTRIES, last)))
			return 0;
	}
	u64 l2[HOG_L1S_MAX / PT_ENTRIES];
	int nl2 = (nl1 + PT_ENTRIES - 1) / PT_ENTRIES;
	for (int k = 0; k < nl2; k++) {
		u64 *t = alloc_page();
		for (int i = 0; i < PT_ENTRIES && k * PT_ENTRIES + i < nl1; i++)
			t[i] = (l1[k * PT_ENTRIES + i] << PAGE_SHIFT) | RW;
		l2[k] = virt_to_mfn(t);
		if (HYPERVISOR_update_va_mapping((u64)t, (l2[k] << PAGE_SHIFT) | RO, UVMF_INVLPG) < 0)
			return 0;
	}
	u64 *l3 = alloc_page();
	for (int k = 0; k < nl2; k++)
		l3[k] = (l2[k] << PAGE_SHIFT) | RW;
	u64 m = virt_to_mfn(l3);
	return HYPERVISOR_update_va_mapping((u64)l3, (m << PAGE_SHIFT) | RO, UVMF_INVLPG) < 0 ? 0 : m;
}

/* The end of the witness's watch in ms of system time: until=MS on both domains' command
 * lines, for a hog that needs longer to get ready, else WITNESS_UNTIL_MS. */
static u64 witness_until(void)
{
	u64 ms;
	if (!test_option("until") || parse_size(test_option("until"), &ms) < 0)
		ms = WITNESS_UNTIL_MS;
	return ms;
}

/* The other domain: watches the PV clock from before WITNESS_FROM_MS to WITNESS_UNTIL_MS
 * (or until=MS; system time, the same in every domain) and checks that it was never kept off the CPU
 * for WITNESS_MAX_GAP_MS (a few slices) or more.  The hog starts its batch in between
 * (hog_start), so a batch that held the CPU would show as one long gap. */
TEST(test_cpu_witness, "cpu-witness", "a domain keeps getting the CPU while another hogs it")
{
	if (!clock_setup())
		return;
	u64 start = get_system_time(), prev = start, gap = 0, gap_at = 0, now;
	check(start < WITNESS_FROM_MS * MS, "watching from %lu ms, before the hog starts", start / MS);
	do {	/* the last read counts too: it may come after a long gap */
		now = get_system_time();
		if (now - prev > gap)
			gap = now - prev, gap_at = prev;
		prev = now;
	} while (now < witness_until() * MS);
	printf("longest time off the CPU: %lu ms, from %lu ms\n", gap / MS, gap_at / MS);
	check(gap < WITNESS_MAX_GAP_MS * MS, "never off the CPU for %lu ms or more (longest %lu ms)",
	      WITNESS_MAX_GAP_MS, gap / MS);
}

/* The hog's side of the timing: start the batch once the witness watches, and early enough
 * that the witness sees at least HOG_OVERLAP_MS of it. */
static bool hog_start(void)
{
	u64 now;
	while ((now = get_system_time()) < WITNESS_FROM_MS * MS)
		pause();
	return check(now < (witness_until() - HOG_OVERLAP_MS) * MS,
		     "the batch starts at %lu ms, while the witness watches", now / MS);
}

/* Hook and unhook the tree n times in one mmu_update: n validations of HOG_L1S * 512
 * entries, and as many releases. */
static void hog_mmu_update(u64 l3, unsigned n)
{
	static struct mmu_update u[4096];
	u64 slot = (current_l4() << PAGE_SHIFT) + PT_INDEX(HOG_VA, 4) * 8;
	for (unsigned i = 0; i < n; i++)
		u[i] = (struct mmu_update){ slot, i % 2 ? 0 : (l3 << PAGE_SHIFT) | RW };
	unsigned done = 12345;
	if (!hog_start())
		return;
	u64 t0 = get_system_time();
	check_eq(HYPERVISOR_mmu_update(u, n, &done, DOMID_SELF), 0, "the long mmu_update batch succeeds");
	printf("mmu_update of %u tree hooks took %lu ms\n", n, (get_system_time() - t0) / MS);
	check_eq(done, n, "... and reports every request done");
	check_eq((long)((pte_t *)mfn_to_virt(current_l4()))[PT_INDEX(HOG_VA, 4)], 0, "... ending unhooked");
	/* Once more, ending hooked, with the tree in use: it must be reachable. */
	check_eq(HYPERVISOR_mmu_update(u, 3, NULL, DOMID_SELF), 0, "an odd batch (no done pointer)");
	check_eq((read_fault((volatile u64 *)HOG_VA) == -1), 1, "... leaves the tree hooked and mapped");
	check_eq(update(slot, 0), 0, "unhook it");
}

/* One request that hooks a big unvalidated tree, one that unhooks it, twice: each must be
 * preempted inside (validation ahead, deferred devalidation), and end with a clean audit. */
static void hog_one(u64 l3, u64 nl1)
{
	u64 slot = (current_l4() << PAGE_SHIFT) + PT_INDEX(HOG_VA, 4) * 8;
	if (!hog_start())
		return;
	for (int k = 0; k < 2; k++) {
		u64 t0 = get_system_time();
		check_eq(update(slot, (l3 << PAGE_SHIFT) | RW), 0, "hook the tree in one request");
		u64 t1 = get_system_time();
		check_eq((read_fault((volatile u64 *)HOG_VA) == -1), 1, "... and it maps");
		check_eq(update(slot, 0), 0, "unhook it in one request");
		printf("hooking %lu L1 tables took %lu ms, unhooking %lu ms\n", nl1, (t1 - t0) / MS,
		       (get_system_time() - t1) / MS);
	}
	u64 t0 = get_system_time();
	check_eq(mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0), 0, "one more batch (it finishes the release)");
	printf("... which took %lu ms\n", (get_system_time() - t0) / MS);
	check_eq(mmuext(MMUEXT_PIN_L3_TABLE, l3), 0, "pin the tree (validation ahead again)");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, l3), 0, "unpin it");
	check_eq(mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0), 0, "one more batch");
	/* A tree whose every L1 is invalid in its last entry: refused, and promptly -- a
	 * validation ahead that retried every bad table on each continuation would never end. */
	u64 bad = hog_tree(PT_ENTRIES, (0x100ULL << PAGE_SHIFT) | RO);
	check_eq(update(slot, (bad << PAGE_SHIFT) | RW), -XEN_EINVAL, "hook a tree of invalid L1 tables: -EINVAL");
	check_eq(mmuext(MMUEXT_PIN_L3_TABLE, bad), -XEN_EINVAL, "pin it: -EINVAL");
	check_eq((long)((pte_t *)mfn_to_virt(current_l4()))[PT_INDEX(HOG_VA, 4)], 0, "nothing is hooked");
}

/* Pin and unpin the tree's L3 n times in one mmuext_op: each pin validates it all. */
static void hog_mmuext(u64 l3, unsigned n)
{
	static struct mmuext_op op[4096];
	for (unsigned i = 0; i < n; i++)
		op[i] = (struct mmuext_op){ .cmd = i % 2 ? MMUEXT_UNPIN_TABLE : MMUEXT_PIN_L3_TABLE, .arg1.mfn = l3 };
	unsigned done = 0;
	if (!hog_start())
		return;
	u64 t0 = get_system_time();
	check_eq(HYPERVISOR_mmuext_op(op, n, &done, DOMID_SELF), 0, "the long mmuext_op batch succeeds");
	printf("mmuext_op of %u tree pins took %lu ms\n", n, (get_system_time() - t0) / MS);
	check_eq(done, n, "... and reports every operation done");
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, l3), -XEN_EINVAL, "... ending unpinned");
}

/* A multicall of mmu_update batches, each preempted in its middle: each entry must end with
 * result 0 and its own full done count, and the entries after them must run too. */
static void hog_multicall(u64 l3, unsigned entries, unsigned n)
{
	static struct mmu_update u[4096];
	static struct multicall_entry mc[MULTICALL_MAX];
	static unsigned done[MULTICALL_MAX];
	u64 slot = (current_l4() << PAGE_SHIFT) + PT_INDEX(HOG_VA, 4) * 8;
	for (unsigned i = 0; i < n; i++)
		u[i] = (struct mmu_update){ slot, i % 2 ? 0 : (l3 << PAGE_SHIFT) | RW };
	for (unsigned k = 0; k < entries; k++) {
		done[k] = 777;
		mc[k] = (struct multicall_entry){ .op = __HYPERVISOR_mmu_update, .result = 99,
			.args = { (u64)u, n, (u64)&done[k], DOMID_SELF } };
	}
	mc[entries] = (struct multicall_entry){ .op = __HYPERVISOR_xen_version, .result = 99,
		.args = { XENVER_version } };
	if (!hog_start())
		return;
	u64 t0 = get_system_time();
	check_eq(HYPERVISOR_multicall(mc, entries + 1), 0, "the long multicall succeeds");
	printf("multicall of %u x %u tree hooks took %lu ms\n", entries, n, (get_system_time() - t0) / MS);
	int good = 0;
	for (unsigned k = 0; k < entries; k++)
		good += mc[k].result == 0 && done[k] == n;
	check_eq(good, entries, "every entry has result 0 and its whole done count");
	check((long)mc[entries].result > 0, "the entry after them ran (result %lx)", mc[entries].result);
	check_eq((long)((pte_t *)mfn_to_virt(current_l4()))[PT_INDEX(HOG_VA, 4)], 0, "the tree ends unhooked");
}

TEST(test_cpu_hog_mm, "cpu-hog-mm", "mmu_update, mmuext_op or multicall batches that take seconds")
{
	char hog_buf[16];	/* test_option()'s buffer is reused by the next call */
	const char *hog = test_option("hog") ? (strlcpy(hog_buf, test_option("hog"), sizeof(hog_buf)), hog_buf) : NULL;
	if (!clock_setup())
		return;
	u64 nl1 = HOG_L1S;
	if (test_option("l1s") && (parse_size(test_option("l1s"), &nl1) < 0 || nl1 > HOG_L1S_MAX))
		nl1 = HOG_L1S;
	u64 l3 = hog_tree((int)nl1, 0);
	if (!check(l3 != 0, "build a tree of %lu full L1 tables", nl1))
		return;
	if (hog && !strcmp(hog, "one"))
		hog_one(l3, nl1);
	if (hog && !strcmp(hog, "exit")) {	/* end with the tree hooked: teardown releases it */
		u64 slot = (current_l4() << PAGE_SHIFT) + PT_INDEX(HOG_VA, 4) * 8;
		check_eq(update(slot, (l3 << PAGE_SHIFT) | RW), 0, "hook the tree and leave it hooked");
		check_eq(mmuext(MMUEXT_PIN_L3_TABLE, l3), 0, "pin it too");
		hog_start();
		return;	/* no audit: it is not preemptible, and the teardown checks the counts */
	}
	if (!hog || !strcmp(hog, "mmu_update"))
		hog_mmu_update(l3, 256);
	if (!hog || !strcmp(hog, "mmuext_op"))
		hog_mmuext(l3, 256);
	if (!hog || !strcmp(hog, "multicall"))
		hog_multicall(l3, 8, 32);
	/* The audit is a test hook, not preemptible: run it once the witness is done. */
	while (get_system_time() < witness_until() * MS)
		pause();
	audit();
}

/* 256 KiB of console output in one multicall (32 entries of 8 KiB). */
TEST(test_cpu_hog_console, "cpu-hog-console", "a multicall of console output that takes seconds")
{
	static char text[8192];
	static struct multicall_entry mc[32];
	if (!clock_setup())
		return;
	for (unsigned i = 0; i < sizeof(text); i++)
		text[i] = i % 128 == 127 ? '\n' : 'a' + (char)(i / 128 % 26);
	for (unsigned k = 0; k < ARRAY_SIZE(mc); k++)
		mc[k] = (struct multicall_entry){ .op = __HYPERVISOR_console_io, .result = 99,
			.args = { CONSOLEIO_write, sizeof(text), (u64)text } };
	if (!hog_start())
		return;
	u64 t0 = get_system_time();
	check_eq(HYPERVISOR_multicall(mc, ARRAY_SIZE(mc)), 0, "the console multicall succeeds");
	printf("256 KiB of console output took %lu ms\n", (get_system_time() - t0) / MS);
	int good = 0;
	for (unsigned k = 0; k < ARRAY_SIZE(mc); k++)
		good += mc[k].result == 0;
	check_eq(good, (int)ARRAY_SIZE(mc), "every entry has result 0");
}

/* Bit 7 of an entry: PAT in an L1 entry (a memory type: allowed, as in Xen), PS above it
 * (a superpage: refused at every level, so no entry maps more than a 4 KiB frame). */
TEST(test_pte_bit7, "pte-bit7", "the L1 PAT bit is allowed, superpages are not")
{
	u64 *page = alloc_page(), mine = virt_to_mfn(page);
	page[0] = 0xabc;
	check_eq(map_page(current_l4(), FAR_VA, mine, RW), 0, "make tables at FAR_VA (control)");
	check_eq(update(entry_ma(FAR_VA, 1), (mine << PAGE_SHIFT) | RW | PTE_PAT), 0,
		 "an L1 entry with PAT set: allowed");
	check_eq((long)*(volatile u64 *)FAR_VA, 0xabc, "... and it maps the page");
	check_eq(HYPERVISOR_update_va_mapping(FAR_VA, (mine << PAGE_SHIFT) | RO | PTE_PAT, UVMF_INVLPG), 0,
		 "update_va_mapping with PAT, read-only: allowed");
	u64 table = new_table();
	check_eq(update(entry_ma(FAR_VA, 2) + 8, (table << PAGE_SHIFT) | RW | PTE_PS), -XEN_EINVAL,
		 "an L2 entry with PS (2 MiB): -EINVAL");
	check_eq(update(entry_ma(FAR_VA, 3) + 8, (table << PAGE_SHIFT) | RW | PTE_PS), -XEN_EINVAL,
		 "an L3 entry with PS (1 GiB): -EINVAL");
	check_eq(update(entry_ma(FAR_VA, 4) + 8, (table << PAGE_SHIFT) | RW | PTE_PS), -XEN_EINVAL,
		 "an L4 entry with bit 7: -EINVAL");
	check_eq(update(entry_ma(FAR_VA, 1), 0), 0, "unmap (clean up)");
	audit();
}
