/*
 * The guest half of the GDB commands' test (tests/system/gdb.py): leave state at known
 * places, print where, then make the hypercall that the test's breakpoint stops at.
 * d0 runs test=gdb, d1 test=gdb-peer (the granter whose page d0 maps).
 */
#include "guest/test.h"

#define GDB_VA 0x8000000000UL	/* L4 slot 1: the walk goes through tables made here */
#define GDB_MAP_VA 0x8000200000UL	/* where d0 maps d1's grant */
#define PEER_REF GNTTAB_NR_RESERVED_ENTRIES	/* d1's first grant (writable), then ref 9 (read-only) */
#define MS 1000000ULL

static long map_handle = -1, ro_handle = -1;	/* d0's mappings of d1's grants */

/* d0's ports and grants for `pvlab evtchn 0` and `pvlab grants 0`: a masked unbound port
 * for d1; a loopback interdomain pair, both ends pending, the second masked, the first
 * waiting with interrupts off (returns with them off); a read-only grant to d1; a writable
 * mapping of d1's ref 8 (retried until d1 has granted it) and a read-only one of ref 9. */
static bool events_and_grants(u64 *granted)
{
	if (!check_eq(time_init(), 0, "map shared info") || !check_eq(gnttab_init(), 0, "grant table"))
		return false;
	long u = evtchn_alloc_unbound(1, NULL);
	long a = evtchn_alloc_unbound(DOMID_SELF, NULL);
	long b = evtchn_bind_interdomain(DOMID_SELF, (unsigned)a, NULL);
	if (!check(u > 0 && a > 0 && b > 0, "ports: unbound %ld, pair %ld-%ld", u, a, b))
		return false;
	evtchn_mask((unsigned)u);
	evtchn_mask((unsigned)b);
	check_eq(evtchn_notify((unsigned)a), 0, "notify the masked end");
	cli();	/* until after the stop: a's event waits, upcall_pending and selector set */
	check_eq(evtchn_notify((unsigned)b), 0, "notify the unmasked end");
	long ref = grant_foreign_access(1, virt_to_mfn(granted), true);
	check_eq(gnttab_prepare_va(GDB_MAP_VA) | gnttab_prepare_va(GDB_MAP_VA + PAGE_SIZE), 0,
		 "empty L1 entries to map at");
	long h = -1;
	for (int round = 0; round < 5000 && h < 0; round++)	/* d1 may not have granted yet */
		if ((h = gnttab_map(1, PEER_REF, GDB_MAP_VA, false)) < 0)
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	if (!check(ref > 0 && h >= 0, "grant ref %ld, map d1's ref %d: handle %ld", ref, PEER_REF, h))
		return false;
	map_handle = h;
	ro_handle = gnttab_map(1, PEER_REF + 1, GDB_MAP_VA + PAGE_SIZE, true);
	if (!check(ro_handle >= 0, "map d1's ref %d read-only: handle %ld", PEER_REF + 1, ro_handle))
		return false;
	__atomic_store_n((u64 *)GDB_MAP_VA, 1, __ATOMIC_RELEASE);	/* tell d1: mapped */
	printf("gdb: ports unbound %ld pair %ld %ld, grant ref %ld of mfn %lx, handles %ld %ld of d1 "
	       "refs %d %d at va %lx\n", u, a, b, ref, virt_to_mfn(granted), h, ro_handle, PEER_REF,
	       PEER_REF + 1, GDB_MAP_VA);
	return true;
}

TEST(test_gdb, "gdb", "state for the GDB commands to show: a page mapped, ports, grants")
{
	u64 *page = alloc_page();
	u64 mfn = virt_to_mfn(page);
	if (!check_eq(map_page(current_l4(), GDB_VA, mfn, PTE_P | PTE_W | PTE_U), 0,
		      "map a page at 0x8000000000"))
		return;
	printf("gdb: mapped mfn %lx at va %lx, l4 %lx\n", mfn, GDB_VA, current_l4());
	if (!events_and_grants(alloc_page()))
		return;
	/* a ring header for `pvlab ring`: five requests out across the wrap at 2^32, the
	 * backend asleep (notified by the next request), the frontend not */
	u32 *ring = (u32 *)page;
	ring[0] = 0x00000003, ring[1] = 0x00000004, ring[2] = 0xfffffffe, ring[3] = 0x00000001;
	long v = HYPERVISOR_xen_version(XENVER_version, NULL);
	printf("gdb: xen_version %ld, then the stop\n", v);
	v = HYPERVISOR_xen_version(XENVER_version, NULL);
	/* The test stops here: a breakpoint on do_debug_op for PVLAB_DEBUG_log. */
	check(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)"gdb: stop") >= 0, "log for the stop");
	sti();
	check_eq(v, (PVLAB_VERSION_MAJOR << 16) | PVLAB_VERSION_MINOR, "xen_version");
	check_eq(unmap_page(current_l4(), GDB_VA), 0, "unmap it");
	check_eq(gnttab_unmap(GDB_MAP_VA, (grant_handle_t)map_handle) |
		 gnttab_unmap(GDB_MAP_VA + PAGE_SIZE, (grant_handle_t)ro_handle), 0, "unmap d1's grants");
}

/* d1: grant d0 a page writable (ref 8) and one read-only (ref 9); once d0 wrote to the
 * first through its mapping and has unmapped both (never, when stopped by the GDB test),
 * revoke them.  At most 5 s. */
TEST(test_gdb_peer, "gdb-peer", "d1 of the GDB test: grant d0 a page and wait")
{
	if (!check_eq(time_init(), 0, "map shared info") || !check_eq(gnttab_init(), 0, "grant table"))
		return;
	u64 *page = alloc_page();
	long ref = grant_foreign_access(0, virt_to_mfn(page), false);
	u64 *ro = alloc_page();
	if (!check_eq(ref, PEER_REF, "grant d0 a page") ||
	    !check_eq(grant_foreign_access(0, virt_to_mfn(ro), true), PEER_REF + 1, "and one read-only"))
		return;
	printf("gdb-peer: granted refs %ld %d of mfns %lx %lx to d0\n", ref, PEER_REF + 1,
	       virt_to_mfn(page), virt_to_mfn(ro));
	for (int i = 0; i < 5000; i++) {
		bool used = (__atomic_load_n(&gnttab[ref].flags, __ATOMIC_ACQUIRE) |
			     __atomic_load_n(&gnttab[ref + 1].flags, __ATOMIC_ACQUIRE)) & GTF_reading;
		if (__atomic_load_n(page, __ATOMIC_ACQUIRE) == 1 && !used)
			break;
		sleep_ns(MS);
	}
	check_eq(*page, 1, "d0 wrote through its mapping");
	check_eq(gnttab_end_foreign_access((grant_ref_t)ref) |
		 gnttab_end_foreign_access((grant_ref_t)ref + 1), 0, "revoke them");
}
