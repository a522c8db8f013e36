/*
 * memory_op as a CPU hog (XSA-45, XSA-158): one populate_physmap of thousands of pages,
 * each zeroed by the hypervisor, would hold the CPU for a long time; it must give it up
 * between extents.  Run against test=cpu-witness until=7000 (guest/tests/hostile_mm.c),
 * which watches the PV clock from its boot until 7 s and fails on a long gap.
 */
#include "guest/test.h"

#define MS 1000000UL
#define WITNESS_FROM_MS 5000UL		/* the call starts here: ballooning */
#define WITNESS_UNTIL_MS 7000UL		/* thousands of pages out first takes seconds under load */
#define HOG_OVERLAP_MS 500UL

static void no_event(unsigned port UNUSED)
{
}

TEST(test_balloon_hog, "balloon-hog", "one populate_physmap of thousands of pages gives up the CPU")
{
	static xen_pfn_t list[GUEST_MAX_PFNS];
	static u64 pfns[GUEST_MAX_PFNS];
	domid_t self = DOMID_SELF;
	long held = HYPERVISOR_memory_op(XENMEM_current_reservation, &self);
	if (!check(held == (long)start_info->nr_pages, "memory_op works") ||
	    !check_eq(time_init(), 0, "map shared info for the PV clock"))
		return;
	evtchn_set_handler(PVLAB_TIMER_PORT, no_event);
	long n = (long)mm_free_pages() - 64;
	check_eq(balloon_set_target(held - n), held - n, "balloon out all but 64 free pages");
	long k = 0;
	for (u64 pfn = 0; pfn < start_info->nr_pages; pfn++)
		if (mm_pfn_state(pfn) == PFN_BALLOONED)
			pfns[k] = list[k] = pfn, k++;
	u64 now;
	while ((now = get_system_time()) < WITNESS_FROM_MS * MS)
		pause();
	if (!check(now < (WITNESS_UNTIL_MS - HOG_OVERLAP_MS) * MS, "the call starts at %lu ms, while the witness watches", now / MS))
		return;
	struct xen_memory_reservation r = { .extent_start = (u64)list, .nr_extents = (u64)k, .domid = DOMID_SELF };
	u64 t0 = get_system_time();
	long done = HYPERVISOR_memory_op(XENMEM_populate_physmap, &r);
	printf("populate_physmap of %ld pages took %lu ms\n", k, (get_system_time() - t0) / MS);
	check_eq(done, k, "... and did every extent (continued correctly)");
	long bad = 0;
	for (long i = 0; i < done; i++) {
		phys_to_machine[pfns[i]] = list[i];
		bad += HYPERVISOR_update_va_mapping((u64)pfn_to_virt(pfns[i]), (list[i] << PAGE_SHIFT) | PTE_P | PTE_W | PTE_U,
						    UVMF_INVLPG) != 0;
		mm_pfn_populated(pfns[i]);
		free_page(pfn_to_virt(pfns[i]));
	}
	check_eq(bad, 0, "every new frame maps");
	check_eq(HYPERVISOR_memory_op(XENMEM_current_reservation, &self), held, "we hold all our pages again");
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_audit, 0), 0, "the audit finds every count right");
}
