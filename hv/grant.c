/*
 * Grant tables (lab 5): the one controlled way for a domain to reach another's frame.  See
 * include/public/grant_table.h for the ABI and handouts/lab5-grants.md for the story.
 *
 * Who holds what while domain L maps entry `ref` of granter R's table:
 *   - R's shared entry has GTF_reading (and GTF_writing) set, so R cannot revoke it;
 *   - our active record act[ref] of R counts the pins and remembers the frame and the
 *     domain at the first pin -- R may scribble on its entry, we trust our copy;
 *   - L's page-table entry holds a general (and, writable, a type) reference on the frame
 *     (the given mm_host_map()), so lab 2's rules hold across domains and the frame cannot
 *     be freed while mapped, even if R dies (it becomes an orphan: hv/mm.c);
 *   - L's maptrack slot (the handle) remembers (R, ref, host_addr, frame) for the unmap.
 */
#include "hv/hv.h"
#include <stddef.h>

#define ENTRIES_PER_FRAME (PAGE_SIZE / sizeof(struct grant_entry_v1))
#define MAX_REFS (GNTTAB_MAX_FRAMES * ENTRIES_PER_FRAME)

/* The hypervisor's record of entry `ref` while in use: pins (all uses) and wpins (the
 * writable ones), and the domain and frame seen at the first pin. */
struct active_grant {
	u16 pins, wpins;
	domid_t domid;
	mfn_t frame;
};

/* One mapping of the mapper (a handle is its index). */
struct maptrack {
	bool live;
	bool writable;
	bool granter_gone;	/* the granter died: its table is gone, nothing to unpin */
	domid_t dom;		/* the granter */
	grant_ref_t ref;
	u64 va;
	mfn_t mfn;
};

static struct grant_domain {
	unsigned nr_frames;
	mfn_t frames[GNTTAB_MAX_FRAMES];
	struct active_grant act[MAX_REFS];
	struct maptrack maptrack[GNTTAB_MAPTRACK_MAX];
} gnt[MAX_DOMAINS];

/* How many entries d's table has now. */
static unsigned nr_entries(struct domain *d)
{
	return gnt[d->id].nr_frames * ENTRIES_PER_FRAME;
}

/* Entry ref of d's table (ref < nr_entries(d)). */
static struct grant_entry_v1 *entry_of(struct domain *d, grant_ref_t ref)
{
	struct grant_entry_v1 *f = mfn_to_virt(gnt[d->id].frames[ref / ENTRIES_PER_FRAME]);
	return &f[ref % ENTRIES_PER_FRAME];
}

/* Is domid the caller's own (DOMID_SELF or its id)? */
static bool is_self(struct vcpu *v, domid_t domid)
{
	return domid == DOMID_SELF || domid == v->dom->id;
}

/* Clear bits of the granter's entry flags atomically: the granter may be changing the
 * other bits at the same time. */
static void clear_flags(struct grant_entry_v1 *e, u16 bits)
{
	__atomic_fetch_and(&e->flags, (u16)~bits, __ATOMIC_SEQ_CST);
}

/* Is ref one of the reserved refs (0..7) that domain ld may not use?  All of them, but
 * GNTTAB_RESERVED_XENSTORE for dom0: the builder granted the domU's store page there. */
static bool reserved_ref(domid_t ld, grant_ref_t ref)
{
	if (ref == GNTTAB_RESERVED_XENSTORE && ld < MAX_DOMAINS && domains[ld].privileged)
		return false;
	return ref < GNTTAB_NR_RESERVED_ENTRIES;
}

/* Pin entry `ref` of granter rd for a use by domain `ld`, writable or not: check the
 * entry and set GTF_reading (| GTF_writing) with compare-and-swap on {flags, domid}; the
 * first pin records the frame.  GNTST_okay with *mfn set, or the GNTST_* of the refusal. */
static s16 pin(struct domain *rd, domid_t ld, grant_ref_t ref, bool writable, mfn_t *mfn)
{
#if SOLUTION(5)
	if (reserved_ref(ld, ref) || ref >= nr_entries(rd))
		return GNTST_bad_gntref;
	struct grant_entry_v1 *e = entry_of(rd, ref);
	struct active_grant *a = &gnt[rd->id].act[ref];
	u32 *word = (u32 *)e;	/* flags in the low half, domid in the high half */
	for (int tries = 0;; tries++) {
		if (tries == 4)
			return GNTST_general_error;	/* the granter keeps changing it: give up */
		u32 old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		u16 flags = (u16)old;
		if ((flags & GTF_type_mask) != GTF_permit_access || (domid_t)(old >> 16) != ld)
			return GNTST_permission_denied;
		if (writable && (flags & GTF_readonly))
			return GNTST_permission_denied;
		u32 new = old | GTF_reading | (writable ? GTF_writing : 0);
		if (__atomic_compare_exchange_n(word, &old, new, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	if (a->pins == 0) {
		a->domid = ld;
		a->frame = READ_ONCE(e->frame);
	} else if (a->domid != ld) {
		return GNTST_permission_denied;	/* the granter rewrote a live entry */
	}
	a->pins++;
	if (writable)
		a->wpins++;
	*mfn = a->frame;
	return GNTST_okay;
#else // SOLUTION(5)
	/* Lab 5: check ref (reserved_ref(), the table's end) and the entry; set GTF_reading (GTF_writing) with compare-and-swap
	 * on the 32-bit word {flags, domid}, a bounded number of tries; count the pin in
	 * gnt[rd->id].act[ref], recording the frame at the first. */
	(void)rd, (void)ld, (void)ref, (void)writable, (void)mfn, (void)entry_of, (void)nr_entries,
		(void)reserved_ref;
	return GNTST_general_error;
#endif // SOLUTION(5)
}

/* Undo one pin(rd, ., ref, writable): the last use clears the granter's in-use flags. */
static void unpin(struct domain *rd, grant_ref_t ref, bool writable)
{
#if SOLUTION(5)
	struct active_grant *a = &gnt[rd->id].act[ref];
	if (writable && --a->wpins == 0)
		clear_flags(entry_of(rd, ref), GTF_writing);
	if (--a->pins == 0)
		clear_flags(entry_of(rd, ref), GTF_reading);
#else // SOLUTION(5)
	/* Lab 5: the mirror image of pin(); clear_flags() clears bits atomically. */
	(void)rd, (void)ref, (void)writable, (void)clear_flags;
#endif // SOLUTION(5)
}

/* GNTTABOP_setup_table for the caller. */
static s16 setup_table(struct vcpu *v, struct gnttab_setup_table *op)
{
#if SOLUTION(5)
	struct grant_domain *g = &gnt[v->dom->id];
	if (!is_self(v, op->dom))
		return GNTST_bad_domain;
	if (op->nr_frames > GNTTAB_MAX_FRAMES)
		return GNTST_general_error;
	if (guest_access_ok(v, op->frame_list, op->nr_frames * sizeof(xen_pfn_t), true) < 0)
		return GNTST_bad_virt_addr;
	while (g->nr_frames < op->nr_frames) {
		mfn_t m = page_alloc(v->dom->id);
		if (m == INVALID_MFN)
			return GNTST_general_error;
		frame_of(m)->count = 1;	/* the allocation reference */
		share_page_with_guest(v->dom, m);	/* we write its flags: never a page table */
		g->frames[g->nr_frames++] = m;
	}
	for (u32 i = 0; i < op->nr_frames; i++)
		if (copy_to_guest(v, op->frame_list + i * sizeof(xen_pfn_t), &g->frames[i], sizeof(xen_pfn_t)) < 0)
			return GNTST_bad_virt_addr;
	return GNTST_okay;
#else // SOLUTION(5)
	/* Lab 5: grow the caller's table to op->nr_frames frames (page_alloc, the allocation
	 * count, share_page_with_guest) and return their numbers in op->frame_list. */
	(void)is_self, (void)op;
	lab_stub_warn(v, 5, "setup_table");
	return GNTST_general_error;
#endif // SOLUTION(5)
}

/* GNTTABOP_query_size for the caller. */
static s16 query_size(struct vcpu *v, struct gnttab_query_size *op)
{
	if (!is_self(v, op->dom))
		return GNTST_bad_domain;
	op->nr_frames = gnt[v->dom->id].nr_frames;
	op->max_nr_frames = GNTTAB_MAX_FRAMES;
	return GNTST_okay;
}

/* A free maptrack slot of d, or -1. */
static int maptrack_alloc(struct domain *d)
{
	for (int h = 0; h < GNTTAB_MAPTRACK_MAX; h++)
		if (!gnt[d->id].maptrack[h].live)
			return h;
	return -1;
}

/* GNTTABOP_map_grant_ref for the caller. */
static s16 map_grant_ref(struct vcpu *v, struct gnttab_map_grant_ref *op)
{
#if SOLUTION(5)
	struct domain *ld = v->dom, *rd = domain_by_id(op->dom);
	bool writable = !(op->flags & GNTMAP_readonly);
	if ((op->flags & ~(GNTMAP_host_map | GNTMAP_readonly)) || !(op->flags & GNTMAP_host_map))
		return GNTST_general_error;
	if (!rd || rd == ld)
		return GNTST_bad_domain;
	int h = maptrack_alloc(ld);
	if (h < 0)
		return GNTST_no_space;
	mfn_t mfn;
	s16 st = pin(rd, ld->id, op->ref, writable, &mfn);
	if (st != GNTST_okay)
		return st;
	if (!frame_of(mfn) || frame_of(mfn)->owner != rd->id) {
		unpin(rd, op->ref, writable);
		return GNTST_general_error;	/* granted a frame it does not own */
	}
	long r = mm_host_map(ld, op->host_addr, mfn, writable);
	if (r < 0) {
		unpin(rd, op->ref, writable);
		return r == -XEN_EBUSY ? GNTST_general_error : GNTST_bad_virt_addr;
	}
	gnt[ld->id].maptrack[h] = (struct maptrack){ .live = true, .writable = writable, .dom = rd->id,
						      .ref = op->ref, .va = op->host_addr, .mfn = mfn };
	op->handle = (grant_handle_t)h;
	op->dev_bus_addr = 0;
	return GNTST_okay;
#else // SOLUTION(5)
	/* Lab 5: check flags and dom, take a maptrack slot (maptrack_alloc), pin() the entry,
	 * check the frame is the granter's, mm_host_map() it, record the slot, return its
	 * index as the handle.  Undo the pin on every failure after it. */
	(void)op, (void)maptrack_alloc, (void)unpin, (void)pin;
	lab_stub_warn(v, 5, "map_grant_ref");
	return GNTST_general_error;
#endif // SOLUTION(5)
}

/* GNTTABOP_unmap_grant_ref for the caller. */
static s16 unmap_grant_ref(struct vcpu *v, struct gnttab_unmap_grant_ref *op)
{
#if SOLUTION(5)
	struct maptrack *m = &gnt[v->dom->id].maptrack[op->handle % GNTTAB_MAPTRACK_MAX];
	if (op->handle >= GNTTAB_MAPTRACK_MAX || !m->live)
		return GNTST_bad_handle;
	if (op->host_addr != m->va || mm_host_unmap(v->dom, m->va, m->mfn) < 0)
		return GNTST_general_error;
	if (!m->granter_gone)
		unpin(&domains[m->dom], m->ref, m->writable);
	m->live = false;
	return GNTST_okay;
#else // SOLUTION(5)
	/* Lab 5: find the handle's maptrack slot, check host_addr, mm_host_unmap(), unpin
	 * (unless the granter is gone) and free the slot. */
	(void)op;
	lab_stub_warn(v, 5, "unmap_grant_ref");
	return GNTST_general_error;
#endif // SOLUTION(5)
}

/* One side of a copy, held for the copy's duration. */
struct copy_end {
	struct domain *rd;	/* the granter, or NULL for the caller's own frame */
	grant_ref_t ref;
	bool write;
	mfn_t mfn;
};

/* Give back what copy_acquire() took. */
static void copy_release(struct copy_end *c)
{
#if SOLUTION(5)
	if (c->write)
		put_page_type(c->mfn);
	put_page(c->mfn);
	if (c->rd)
		unpin(c->rd, c->ref, c->write);
#else // SOLUTION(5)
	/* Lab 5: the mirror image of copy_acquire(). */
	(void)c;
#endif // SOLUTION(5)
}

/* Hold one side of a copy: a grant ref of another domain (pinned) or a frame of the
 * caller's own, with a general and (for the destination) a writable type reference. */
static s16 copy_acquire(struct vcpu *v, const struct gnttab_copy_ptr *p, bool gref, bool write,
			struct copy_end *c)
{
#if SOLUTION(5)
	*c = (struct copy_end){ .write = write };
	struct domain *owner = v->dom;
	if (gref) {
		owner = domain_by_id(p->domid);
		if (!owner || owner == v->dom)
			return GNTST_bad_domain;
		s16 st = pin(owner, v->dom->id, p->u.ref, write, &c->mfn);
		if (st != GNTST_okay)
			return st;
		c->rd = owner, c->ref = p->u.ref;
	} else {
		if (!is_self(v, p->domid))
			return GNTST_permission_denied;
		c->mfn = p->u.gmfn;
	}
	s16 st = GNTST_okay;
	if (get_page(owner, c->mfn) < 0)
		st = GNTST_bad_page;
	else if (write && get_page_type(owner, c->mfn, PGT_writable) < 0) {
		put_page(c->mfn);
		st = GNTST_general_error;	/* a page table is never written this way */
	}
	if (st != GNTST_okay && c->rd)
		unpin(c->rd, c->ref, write);
	return st;
#else // SOLUTION(5)
	/* Lab 5: a gref: pin() it (the granter must be another running domain) and check the
	 * frame is the granter's; else the caller's own frame (domid DOMID_SELF).  Then
	 * get_page(), and for the destination get_page_type(PGT_writable). */
	(void)v, (void)p, (void)gref, (void)write, (void)c;
	return GNTST_general_error;
#endif // SOLUTION(5)
}

/* GNTTABOP_copy for the caller. */
static s16 copy(struct vcpu *v, struct gnttab_copy *op)
{
#if SOLUTION(5)
	if (op->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref))
		return GNTST_general_error;
	if (op->source.offset + op->len > PAGE_SIZE || op->dest.offset + op->len > PAGE_SIZE)
		return GNTST_bad_copy_arg;
	struct copy_end src, dst;
	s16 st = copy_acquire(v, &op->source, op->flags & GNTCOPY_source_gref, false, &src);
	if (st != GNTST_okay)
		return st;
	st = copy_acquire(v, &op->dest, op->flags & GNTCOPY_dest_gref, true, &dst);
	if (st != GNTST_okay) {
		copy_release(&src);
		return st;
	}
	memmove((char *)mfn_to_virt(dst.mfn) + op->dest.offset,
		(char *)mfn_to_virt(src.mfn) + op->source.offset, op->len);
	copy_release(&dst);
	copy_release(&src);
	return GNTST_okay;
#else // SOLUTION(5)
	/* Lab 5: check flags and that neither side crosses the end of its page; hold the
	 * source, then the destination (copy_acquire), copy, release both (copy_release). */
	(void)op, (void)copy_acquire, (void)copy_release;
	lab_stub_warn(v, 5, "copy");
	return GNTST_general_error;
#endif // SOLUTION(5)
}

STATIC_ASSERT(sizeof(struct gnttab_copy) <= 64 && sizeof(struct gnttab_map_grant_ref) <= 64);

/* The ops of grant_table_op: size of the structure, offset of its status, the handler. */
typedef s16 (*gnttab_fn)(struct vcpu *v, void *op);
static const struct {
	size_t size, status;
	gnttab_fn fn;
	bool single;		/* count must be 1 */
} ops[] = {
	[GNTTABOP_map_grant_ref] = { sizeof(struct gnttab_map_grant_ref),
				     offsetof(struct gnttab_map_grant_ref, status), (gnttab_fn)map_grant_ref, false },
	[GNTTABOP_unmap_grant_ref] = { sizeof(struct gnttab_unmap_grant_ref),
				       offsetof(struct gnttab_unmap_grant_ref, status), (gnttab_fn)unmap_grant_ref, false },
	[GNTTABOP_setup_table] = { sizeof(struct gnttab_setup_table),
				   offsetof(struct gnttab_setup_table, status), (gnttab_fn)setup_table, true },
	[GNTTABOP_copy] = { sizeof(struct gnttab_copy), offsetof(struct gnttab_copy, status), (gnttab_fn)copy, false },
	[GNTTABOP_query_size] = { sizeof(struct gnttab_query_size),
				  offsetof(struct gnttab_query_size, status), (gnttab_fn)query_size, true },
};

/* grant_table_op(cmd, ops, count): see include/public/grant_table.h.  Given: each op is
 * read, run and written back (status included) one at a time, continued once the slice is
 * over (XSA-45); a structure that cannot be written back is refused before it runs. */
long do_grant_table_op(struct vcpu *v, u64 cmd, u64 uop, u64 count, u64 a4 UNUSED, u64 a5 UNUSED)
{
	if (cmd >= ARRAY_SIZE(ops) || !ops[cmd].fn)
		return -XEN_ENOSYS;
	if (count > (u32)-1 || (ops[cmd].single && count != 1))
		return -XEN_EINVAL;
	size_t size = ops[cmd].size;
	for (u64 i = 0; i < count; i++) {
		u64 at = uop + i * size;
		if (i > 0 && hypercall_preempt_check())
			return hypercall_create_continuation(v, __HYPERVISOR_grant_table_op, cmd, at, count - i, 0, 0);
		u64 op[8];	/* the largest op, aligned for its u64 fields */
		if (copy_from_guest(v, op, at, size) < 0 || guest_access_ok(v, at, size, true) < 0)
			return -XEN_EFAULT;
		s16 st = ops[cmd].fn(v, op);
		memcpy((u8 *)op + ops[cmd].status, &st, sizeof(st));
		if (copy_to_guest(v, at, op, size) < 0)
			return -XEN_EFAULT;
	}
	return 0;
}

/* Given (lab 6): at build time, give domU d its first grant-table frame and fill ref
 * GNTTAB_RESERVED_XENSTORE with {permit_access, dom0, d's store page}, as Xen's toolstack
 * does, so that dom0 maps the store page with an ordinary map_grant_ref.  setup_table
 * grows the table from here, keeping the frame.  0 or -XEN_ENOMEM. */
long gnttab_grant_store_page(struct domain *d)
{
	struct grant_domain *g = &gnt[d->id];
	mfn_t m = page_alloc(d->id);
	if (m == INVALID_MFN)
		return -XEN_ENOMEM;
	frame_of(m)->count = 1;	/* the allocation reference */
	share_page_with_guest(d, m);	/* we write its flags: never a page table */
	g->frames[g->nr_frames++] = m;
	struct grant_entry_v1 *e = entry_of(d, GNTTAB_RESERVED_XENSTORE);
	e->frame = (u32)d->store_mfn;
	e->domid = 0;
	e->flags = GTF_permit_access;
	return 0;
}

/* Teardown of dead domain d: as a mapper, its pins on live granters go (its page-table
 * entries give the frames back in mm_teardown()); as a granter, the mappers keep their
 * mappings of its frames (orphans then, freed by the last unmap) but have nothing to unpin. */
static void gnttab_domain_destroy(struct domain *d)
{
#if SOLUTION(5)
	for (int h = 0; h < GNTTAB_MAPTRACK_MAX; h++) {
		struct maptrack *m = &gnt[d->id].maptrack[h];
		if (m->live && !m->granter_gone)
			unpin(&domains[m->dom], m->ref, m->writable);
		m->live = false;
	}
	for (int o = 0; o < MAX_DOMAINS; o++)
		for (int h = 0; h < GNTTAB_MAPTRACK_MAX; h++) {
			struct maptrack *m = &gnt[o].maptrack[h];
			if (o != d->id && m->live && m->dom == d->id)
				m->granter_gone = true;
		}
#else // SOLUTION(5)
	/* Lab 5: undo d's pins as a mapper; mark other domains' mappings of d's grants as
	 * having their granter gone. */
#endif // SOLUTION(5)
	memset(&gnt[d->id], 0, sizeof(gnt[d->id]));	/* its frames go with the domain */
}

DOM_HOOKS(grant, .domain_destroy = gnttab_domain_destroy);
