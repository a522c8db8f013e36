/* Lab 5: grant tables -- a domU (the front) grants pages to dom0 (the back), which maps and
 * copies them; refusals, revocation while in use, and crashes on either side.  The two
 * sides step each other with an event channel (lab 4); every test ends with the audit. */
#include "guest/test.h"

#define MS 1000000ULL
#define MAP_VA 0x7f0100000ULL	/* where the back maps grants */
#define MAP_VA2 (MAP_VA + PAGE_SIZE)
#define FIRST_REF GNTTAB_NR_RESERVED_ENTRIES


static bool audit_clean(void)
{
	return check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_audit, 0), 0, "the audit finds every count right");
}

/* The other domain (option peer=, by default dom0 for the front and d1 for the back) and
 * our own id (option self=, by default 0 for the back: dom0). */
static domid_t peer, self;

/* Time, and our grant table: the front grants, the back only needs it for refs of its own. */
static bool setup(void)
{
	bool dom0 = start_info->flags & SIF_INITDOMAIN;
	peer = test_option_num("peer", dom0 ? 1 : 0);
	self = test_option_num("self", 0);
	return check_eq(time_init(), 0, "map shared info") && check_eq(gnttab_init(), 0, "set up the grant table");
}

/* Mask port p (if it is one): we take its events with wait_for_event(), not the upcall. */
static long masked(long p)
{
	if (p > 0)
		evtchn_mask((unsigned)p);
	return p;
}

/* The back: bind the port the front allocated for us (its number is unknown: try the first
 * few, yielding while the front has not allocated it), and take the bind's own event. */
static long bind_front(void)
{
	for (int round = 0; round < 2000; round++) {
		for (unsigned p = 1; p < 16; p++) {
			if (is_store_port(peer, p))
				continue;
			long r = masked(evtchn_bind_interdomain(peer, p, NULL));
			if (r > 0) {
				wait_for_event((unsigned)r, 100 * MS);
				return r;
			}
			if (r != -XEN_EINVAL && r != -XEN_ESRCH)
				return r;
		}
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	return -XEN_EINVAL;
}

/* Signal the peer, then wait for its answer. */
static bool step(unsigned port, const char *what)
{
	evtchn_notify(port);
	return check_eq(wait_for_event(port, 5000 * MS), 0, what);
}

/* Wait until our end of the channel is unbound again: the peer is dead and torn down. */
static bool peer_gone(unsigned port)
{
	bool unbound = false;
	for (int i = 0; i < 500; i++) {
		struct evtchn_status st = { .dom = DOMID_SELF, .port = port };
		unbound = unbound || (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == 0 &&
				      st.status == EVTCHNSTAT_unbound);
		/* The port goes unbound when the teardown starts; its memory is released in
		 * slices after that: wait for the end, so what follows sees a dead domain. */
		if (unbound && HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_domain_state, peer) == 3)
			return true;
		sleep_ns(10 * MS);
	}
	return false;
}

/* Wait until at least `n` more machine frames are free than `before`: a dead peer's
 * teardown, which closes its ports first and releases its memory slices later, is over
 * (domain_destroy() frees all its frames at once, at the end). */
static bool frames_freed(long before, long n)
{
	for (int i = 0; i < 500; i++) {
		if (HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_free_frames, 0) >= before + n)
			return true;
		sleep_ns(10 * MS);
	}
	return false;
}

static s16 copy1(struct gnttab_copy *c)
{
	long r = HYPERVISOR_grant_table_op(GNTTABOP_copy, c, 1);
	return r < 0 ? (s16)r : c->status;
}

static struct gnttab_copy_ptr gref(grant_ref_t ref, unsigned off)
{
	return (struct gnttab_copy_ptr){ .u.ref = ref, .domid = peer, .offset = (u16)off };
}
static struct gnttab_copy_ptr own(void *page, unsigned off)
{
	return (struct gnttab_copy_ptr){ .u.gmfn = virt_to_mfn(page), .domid = DOMID_SELF, .offset = (u16)off };
}

/* The front: grants a page writable (ref 8) and one read-only (ref 9), lets the back work,
 * checks it cannot revoke while mapped, then revokes. */
TEST(test_front, "grant-front", "grant pages to dom0; revoke only once unmapped")
{
	if (!setup())
		return;
	struct gnttab_query_size qs = { .dom = DOMID_SELF };
	long r = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &qs, 1);
	check(r == 0 && qs.status == GNTST_okay &&
	      qs.nr_frames == GNTTAB_NR_FRAMES && qs.max_nr_frames == GNTTAB_MAX_FRAMES,
	      "query_size: %u frames of at most %u", qs.nr_frames, qs.max_nr_frames);
	check_eq(HYPERVISOR_grant_table_op(GNTTABOP_query_size, &qs, 2), -XEN_EINVAL, "query_size with count 2: -EINVAL");
	char *page = alloc_page(), *ro = alloc_page();
	memcpy(page, "ping from d1", sizeof("ping from d1"));
	memcpy(ro, "read-only data", sizeof("read-only data"));
	long ref = grant_foreign_access(peer, virt_to_mfn(page), false);
	check_eq(ref, FIRST_REF, "a fresh table's first ref");
	check_eq(grant_foreign_access(peer, virt_to_mfn(ro), true), FIRST_REF + 1, "then the next");
	check_eq(grant_foreign_access(7, virt_to_mfn(ro), false), FIRST_REF + 2, "a grant to d7, not dom0");
	check_eq(grant_foreign_access(peer, 1, false), FIRST_REF + 3, "a grant of a frame not ours");
	check_eq(grant_foreign_access(peer, current_l4(), false), FIRST_REF + 4, "a grant of our L4 table");
	long p = masked(evtchn_alloc_unbound(peer, NULL));
	if (!check(p > 0, "a port for dom0 (%ld)", p) ||
	    !check_eq(wait_for_event((unsigned)p, 5000 * MS), 0, "dom0 mapped, wrote and copied"))
		return;
	check(strcmp(page, "pong from d0") == 0, "dom0's write through its mapping is here");
	check(memcmp(page + 1000, "ro!", 3) == 0, "dom0's copy to our ref at offset 1000 is here");
	u32 before = *(volatile u32 *)&gnttab[ref];
	check_eq(gnttab_end_foreign_access((grant_ref_t)ref), -XEN_EBUSY, "revoking while mapped: -EBUSY");
	check_eq(*(volatile u32 *)&gnttab[ref], before, "... and the entry is untouched");
	check_eq(gnttab[ref].flags, GTF_permit_access | GTF_reading | GTF_writing, "mapped writable: reading|writing");
	check_eq(gnttab_unmap(MAP_VA, 0), GNTST_bad_handle, "unmapping dom0's handle 0 here: bad_handle");
	if (!step((unsigned)p, "dom0 unmapped"))
		return;
	check_eq(gnttab[ref].flags, GTF_permit_access, "unmapped: the in-use flags are clear");
	check_eq(gnttab_end_foreign_access((grant_ref_t)ref), 0, "now revoking succeeds");
	check_eq(gnttab[ref].flags, 0, "... and the entry is invalid");
	check_eq(grant_foreign_access(peer, virt_to_mfn(page), false), ref, "the ref is free again (first on the list)");
	audit_clean();
	evtchn_notify((unsigned)p);
}

/* The back: maps, reads, writes, copies, and is refused where it must be. */
TEST(test_back, "grant-back", "map, write and copy the front's grants; every refusal")
{
	if (!setup())
		return;
	long q = bind_front();
	if (!check(q > 0, "bind the front's port (%ld)", q))
		return;
	check_eq(gnttab_prepare_va(MAP_VA) | gnttab_prepare_va(MAP_VA2), 0, "empty L1 entries at the map addresses");
	long h = gnttab_map(peer, FIRST_REF, MAP_VA, false);
	if (!check(h >= 0, "map d1's ref 8 writable (%ld)", h))
		return;
	char *m = (char *)MAP_VA;
	check(strcmp(m, "ping from d1") == 0, "the front's data shows through the mapping");
	memcpy(m, "pong from d0", sizeof("pong from d0"));
	check_eq(gnttab_map(peer, FIRST_REF + 1, MAP_VA2, false), GNTST_permission_denied,
		 "a read-only grant mapped writable: permission_denied");
	long h2 = gnttab_map(peer, FIRST_REF + 1, MAP_VA2, true);
	if (check(h2 >= 0, "mapped read-only (%ld)", h2)) {
		check(strcmp((char *)MAP_VA2, "read-only data") == 0, "it reads");
		check_eq(write_fault((u64 *)MAP_VA2, 1), EXC_PF, "and a write faults");
		check_eq(gnttab_unmap(MAP_VA2, (grant_handle_t)h2), 0, "unmapped");
	}
	/* Copies, both ways, at offsets; across the end of a page refused. */
	char *mine = alloc_page();
	memcpy(mine + 300, "ro!", sizeof("ro!"));
	struct gnttab_copy c = { .source = gref(FIRST_REF + 1, 5), .dest = own(mine, 200), .len = 9,
				 .flags = GNTCOPY_source_gref };
	check_eq(copy1(&c), GNTST_okay, "copy from the read-only grant at offset 5");
	check(memcmp(mine + 200, "only data", 9) == 0, "... the bytes arrived at offset 200");
	c = (struct gnttab_copy){ .source = own(mine, 300), .dest = gref(FIRST_REF, 1000), .len = 3,
				  .flags = GNTCOPY_dest_gref };
	check_eq(copy1(&c), GNTST_okay, "copy to the writable grant at offset 1000");
	c.dest = gref(FIRST_REF + 1, 0);
	check_eq(copy1(&c), GNTST_permission_denied, "copy to the read-only grant: permission_denied");
	c.dest = gref(FIRST_REF, 4090);
	check_eq(copy1(&c) == GNTST_okay, 1, "3 bytes at 4090 fit");
	c.len = 7;
	check_eq(copy1(&c), GNTST_bad_copy_arg, "7 bytes at 4090 cross the page end: bad_copy_arg");
	c = (struct gnttab_copy){ .source = own(mine, 4095), .dest = own(mine, 0), .len = 2 };
	check_eq(copy1(&c), GNTST_bad_copy_arg, "source crossing the page end: bad_copy_arg");
	c = (struct gnttab_copy){ .source = own(mine, 0), .dest = own(mine, 0), .len = 8 };
	c.source.u.gmfn = 1;
	check_eq(copy1(&c), GNTST_bad_page, "copy from a frame not ours: bad_page");
	c = (struct gnttab_copy){ .source = own(mine, 0), .dest = own(mine, 0), .len = 8 };
	c.dest.u.gmfn = current_l4();
	check_eq(copy1(&c), GNTST_general_error, "copy into our own L4 table: general_error");
	/* Bad refs, bad handles, bad addresses, frames the front does not own. */
	check_eq(gnttab_map(peer, 3, MAP_VA2, false), GNTST_bad_gntref, "a reserved ref: bad_gntref");
	check_eq(gnttab_map(peer, 512, MAP_VA2, false), GNTST_bad_gntref, "a ref past the table: bad_gntref");
	check_eq(gnttab_map(peer, 0xffffffff, MAP_VA2, false), GNTST_bad_gntref, "ref 2^32-1: bad_gntref");
	check_eq(gnttab_map(peer, FIRST_REF + 5, MAP_VA2, false), GNTST_permission_denied, "a ref never granted: permission_denied");
	check_eq(gnttab_map(peer, FIRST_REF + 2, MAP_VA2, true), GNTST_permission_denied, "a grant to d7: permission_denied");
	check_eq(gnttab_map(peer, FIRST_REF + 3, MAP_VA2, true), GNTST_general_error, "a grant of a frame d1 does not own: general_error");
	check_eq(gnttab_map(peer, FIRST_REF + 4, MAP_VA2, false), GNTST_general_error, "d1's L4 table mapped writable: general_error");
	check_eq(gnttab_map(5, FIRST_REF, MAP_VA2, false), GNTST_bad_domain, "a domain that does not exist: bad_domain");
	check_eq(gnttab_map(self, FIRST_REF, MAP_VA2, false), GNTST_bad_domain, "ourselves: bad_domain");
	check_eq(gnttab_map(peer, FIRST_REF, MAP_VA2 + 8, false), GNTST_bad_virt_addr, "an unaligned address: bad_virt_addr");
	check_eq(gnttab_map(peer, FIRST_REF, (u64)hypercall_page, false), GNTST_general_error,
		 "onto the hypercall page: general_error");
	check_eq(gnttab_map(peer, FIRST_REF, (u64)mfn_to_virt(current_l4()), false), GNTST_general_error,
		 "onto our L4 table's page: general_error");
	check_eq(HYPERVISOR_grant_table_op(99, NULL, 1), -XEN_ENOSYS, "an unknown op: -ENOSYS");
	check_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, (void *)8, 1), -XEN_EFAULT,
		 "an unreadable op: -EFAULT");
	check_eq(gnttab_unmap(MAP_VA, 200), GNTST_bad_handle, "an unused handle: bad_handle");
	check_eq(gnttab_unmap(MAP_VA, 1U << 20), GNTST_bad_handle, "a handle past the maptrack: bad_handle");
	check_eq(gnttab_unmap(MAP_VA2, (grant_handle_t)h), GNTST_general_error, "the right handle at the wrong address");
	struct mmu_update u = { .ptr = (virt_to_mfn(find_pte(current_l4(), MAP_VA)) << PAGE_SHIFT) |
				       ((u64)find_pte(current_l4(), MAP_VA) & (PAGE_SIZE - 1)), .val = 0 };
	check_eq(HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF), -XEN_EBUSY, "overwriting the grant PTE by mmu_update: -EBUSY");
	audit_clean();
	if (!step((unsigned)q, "the front tried to revoke"))
		return;
	check_eq(gnttab_unmap(MAP_VA, (grant_handle_t)h), 0, "unmap");
	check_eq(gnttab_unmap(MAP_VA, (grant_handle_t)h), GNTST_bad_handle, "unmap again: bad_handle");
	check_eq(read_fault((u64 *)MAP_VA), EXC_PF, "nothing mapped there now");
	audit_clean();
	step((unsigned)q, "the front revoked");
}

/* dom0 grants; d1 maps it and crashes; we revoke once it is gone. */
TEST(test_granter_survives, "grant-granter-survives", "a mapper crashes with our page mapped")
{
	if (!setup())
		return;
	char *page = alloc_page();
	long ref = grant_foreign_access(peer, virt_to_mfn(page), false);
	long p = masked(evtchn_alloc_unbound(peer, NULL));
	if (!check(p > 0, "a port for d1 (%ld)", p) ||
	    !check_eq(wait_for_event((unsigned)p, 5000 * MS), 0, "d1 mapped our page"))
		return;
	check(strcmp(page, "d1 was here") == 0, "d1 wrote through its mapping");
	check_eq(gnttab_end_foreign_access((grant_ref_t)ref), -XEN_EBUSY, "revoking while d1 maps it: -EBUSY");
	evtchn_notify((unsigned)p);
	if (!check(peer_gone((unsigned)p), "d1 died and was torn down"))
		return;
	check_eq(gnttab[ref].flags, GTF_permit_access, "its teardown cleared the in-use flags");
	check_eq(gnttab_end_foreign_access((grant_ref_t)ref), 0, "now revoking succeeds");
	audit_clean();
}

/* The other side of grant-granter-survives. */
TEST(test_mapper_crashes, "grant-mapper-crashes", "map dom0's page, write, crash")
{
	if (!setup())
		return;
	long q = -1;
	for (int i = 0; i < 2000 && q <= 0; i++) {
		for (unsigned p = 1; p < 16 && q <= 0; p++)
			q = is_store_port(peer, p) ? q : masked(evtchn_bind_interdomain(peer, p, NULL));
		if (q <= 0)
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	if (!check(q > 0, "bind dom0's port (%ld)", q))
		return;
	check_eq(gnttab_prepare_va(MAP_VA), 0, "an empty L1 entry");
	long h = gnttab_map(peer, FIRST_REF, MAP_VA, false);
	if (!check(h >= 0, "map dom0's ref 8 (%ld)", h))
		return;
	memcpy((char *)MAP_VA, "d1 was here", sizeof("d1 was here"));
	if (!step((unsigned)q, "dom0 saw it"))
		return;
	printf("crashing now\n");
	static const struct { u16 limit; u64 base; } __attribute__((packed)) no_idt = { 0, 0 };
	__asm__ volatile("lidt %0; int3" :: "m"(no_idt));
	check(false, "survived a triple fault");
}

/* d1 grants a page to dom0, then crashes while dom0 maps it. */
TEST(test_granter_crashes, "grant-granter-crashes", "grant a page to dom0, then crash")
{
	if (!setup())
		return;
	char *page = alloc_page();
	memcpy(page, "d1's page", sizeof("d1's page"));
	check_eq(grant_foreign_access(peer, virt_to_mfn(page), false), FIRST_REF, "granted");
	long p = masked(evtchn_alloc_unbound(peer, NULL));
	if (!check(p > 0, "a port for dom0 (%ld)", p) ||
	    !check_eq(wait_for_event((unsigned)p, 5000 * MS), 0, "dom0 mapped it"))
		return;
	printf("crashing now\n");
	static const struct { u16 limit; u64 base; } __attribute__((packed)) no_idt = { 0, 0 };
	__asm__ volatile("lidt %0; int3" :: "m"(no_idt));
	check(false, "survived a triple fault");
}

/* dom0 maps d1's page; d1 crashes; the page outlives it until we unmap. */
TEST(test_mapper_survives, "grant-mapper-survives", "a granter crashes while we map its page")
{
	if (!setup())
		return;
	long q = bind_front();
	if (!check(q > 0, "bind d1's port (%ld)", q))
		return;
	check_eq(gnttab_prepare_va(MAP_VA), 0, "an empty L1 entry");
	long h = gnttab_map(peer, FIRST_REF, MAP_VA, false);
	if (!check(h >= 0, "map d1's ref 8 (%ld)", h))
		return;
	long before = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_free_frames, 0);
	evtchn_notify((unsigned)q);
	if (!check(peer_gone((unsigned)q), "d1 died and was torn down") ||
	    !check(frames_freed(before, 1024), "... and its memory is freed (the page we map excepted)"))
		return;
	check(strcmp((char *)MAP_VA, "d1's page") == 0, "its page is still there");
	memcpy((char *)MAP_VA, "still mine", sizeof("still mine"));
	check(strcmp((char *)MAP_VA, "still mine") == 0, "and still writable");
	audit_clean();
	check_eq(gnttab_map(peer, FIRST_REF, MAP_VA2, false), GNTST_bad_domain, "a new map of a dead domain: bad_domain");
	check_eq(gnttab_unmap(MAP_VA, (grant_handle_t)h), 0, "unmap (the last reference: the frame is freed)");
	audit_clean();
}
