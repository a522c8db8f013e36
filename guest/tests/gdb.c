/*
 * The guest half of the GDB commands' test (tests/system/gdb.py): leave state at known
 * places, print where, then make the hypercall that the test's breakpoint stops at.
 */
#include "guest/test.h"

#define GDB_VA 0x8000000000UL	/* L4 slot 1: the walk goes through tables made here */

TEST(test_gdb, "gdb", "state for the GDB commands to show: a page mapped at a known VA")
{
	u64 *page = alloc_page();
	u64 mfn = virt_to_mfn(page);
	if (!check_eq(map_page(current_l4(), GDB_VA, mfn, PTE_P | PTE_W | PTE_U), 0,
		      "map a page at 0x8000000000"))
		return;
	printf("gdb: mapped mfn %lx at va %lx, l4 %lx\n", mfn, GDB_VA, current_l4());
	/* a ring header for `pvlab ring`: five requests out across the wrap at 2^32, the
	 * backend asleep (notified by the next request), the frontend not */
	u32 *ring = (u32 *)page;
	ring[0] = 0x00000003, ring[1] = 0x00000004, ring[2] = 0xfffffffe, ring[3] = 0x00000001;
	long v = HYPERVISOR_xen_version(XENVER_version, NULL);
	printf("gdb: xen_version %ld, then the stop\n", v);
	v = HYPERVISOR_xen_version(XENVER_version, NULL);
	/* The test stops here: a breakpoint on do_debug_op for PVLAB_DEBUG_log. */
	check(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)"gdb: stop") >= 0, "log for the stop");
	check_eq(v, (PVLAB_VERSION_MAJOR << 16) | PVLAB_VERSION_MINOR, "xen_version");
	check_eq(unmap_page(current_l4(), GDB_VA), 0, "unmap it");
}
