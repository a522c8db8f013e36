/*
 * Direct paging (lab 2): the guest's page tables hold machine frame numbers and the guest
 * may change them only through hypercalls we validate, so that no domain ever maps memory
 * that is not its own, and no page-table frame is ever writable by a guest.
 *
 * Every frame has a general reference count (`count`: who points at it) and a *type* with a
 * type count (`type_count`: who relies on that type).  The rules:
 *   - a frame's type changes only when its type count is zero;
 *   - making a frame an Ln table validates every entry, and each present entry takes a
 *     general reference on its target plus a type reference: of level n-1 for n > 1, of
 *     type "writable" for a writable L1 entry;
 *   - when the type count of a table drops to zero, everything its entries took is given
 *     back (it is devalidated) and the frame has no type again.
 * So a frame that is mapped writable anywhere has type "writable" and cannot become a page
 * table, and a page table cannot be mapped writable: isolation follows from the counts.
 */
#include "hv/hv.h"

extern u64 *m2p;

/* PTE bits a guest may set: everything but PS (no superpages) and the reserved bits 52..62
 * (available bits 9..11 are the guest's). */
#define PTE_GUEST_FLAGS (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_A | PTE_D | PTE_G | PTE_AVAIL | PTE_NX)
#define MMU_UPDATE_MAX 4096	/* longest mmu_update / mmuext_op batch */

static bool owns(struct domain *d, mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	return f && f->owner == d->id;
}

/* Take a general reference on mfn for d.  0, or -XEN_EINVAL if it is not d's frame. */
int get_page(struct domain *d, mfn_t mfn)
{
	if (!owns(d, mfn))
		return -XEN_EINVAL;
	frame_of(mfn)->count++;
	return 0;
}

void put_page(mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	assert(f && f->count > 0);
	f->count--;
}

static bool is_table_type(int type)
{
	return type >= PGT_l1 && type <= PGT_l4;
}

int get_page_type(struct domain *d, mfn_t mfn, int type);
void put_page_type(mfn_t mfn);

/* Validate entry e of a level-`level` table of domain d and take the references it needs.
 * Returns 0 (also for a non-present entry), or a negative errno. */
static int get_entry(struct domain *d, pte_t e, int level)
{
#if SOLUTION(2)
	if (!(e & PTE_P))
		return 0;
	if (e & ~(PTE_ADDR_MASK | PTE_GUEST_FLAGS))
		return -XEN_EINVAL;	/* PS (a superpage) or a reserved bit */
	mfn_t target = PTE_MFN(e);
	if (get_page(d, target) < 0)
		return -XEN_EINVAL;	/* not ours: the hypervisor's or another domain's */
	int type = level > 1 ? level - 1 : (e & PTE_W) ? PGT_writable : PGT_none;
	if (type != PGT_none) {
		int r = get_page_type(d, target, type);
		if (r < 0) {
			put_page(target);
			return r;
		}
	}
	return 0;
#else // SOLUTION(2)
	/* Lab 2: check e's flags, take a general reference on its target with get_page() and
	 * the type reference the level calls for with get_page_type(). */
	(void)d, (void)e, (void)level;
	lab_stub_warn(NULL, 2, "get_entry");
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

/* Give back what get_entry() took for entry e of a level-`level` table. */
static void put_entry(pte_t e, int level)
{
#if SOLUTION(2)
	if (!(e & PTE_P))
		return;
	mfn_t target = PTE_MFN(e);
	if (level > 1 || (e & PTE_W))
		put_page_type(target);
	put_page(target);
#else // SOLUTION(2)
	/* Lab 2: the mirror image of get_entry(). */
	(void)e, (void)level;
	lab_stub_warn(NULL, 2, "put_entry");
#endif // SOLUTION(2)
}

/* Check every entry of table mfn as a level-`level` table; on failure undo and fail. */
static int validate_table(struct domain *d, mfn_t mfn, int level)
{
	pte_t *t = mfn_to_virt(mfn);
	for (int i = 0; i < PT_ENTRIES; i++) {
		int r = get_entry(d, t[i], level);
		if (r < 0) {
			while (i-- > 0)
				put_entry(t[i], level);
			return r;
		}
	}
	return 0;
}

static void devalidate_table(mfn_t mfn, int level)
{
	pte_t *t = mfn_to_virt(mfn);
	for (int i = 0; i < PT_ENTRIES; i++)
		put_entry(t[i], level);
}

/* Take a type reference of `type` on d's frame mfn: if the frame has no references of
 * another type, it becomes `type` (validating it if that is a page-table type).
 * Returns 0, -XEN_EINVAL (not d's frame, or not valid as `type`) or -XEN_EBUSY (in use
 * as another type). */
int get_page_type(struct domain *d, mfn_t mfn, int type)
{
#if SOLUTION(2)
	struct frame *f = frame_of(mfn);
	if (!owns(d, mfn))
		return -XEN_EINVAL;
	if (f->type_count > 0) {
		if (f->type != type)
			return -XEN_EBUSY;
		f->type_count++;
		return 0;
	}
	if (is_table_type(type)) {
		/* Count first: a table that (illegally) refers to itself then sees itself as
		 * busy with this type and is refused (-XEN_EBUSY), instead of being retyped to
		 * level n-1 in the middle of its own validation -- a corrupted type that would
		 * end in a writable mapping of a live page table. */
		f->type = (u8)type;
		f->type_count = 1;
		int r = validate_table(d, mfn, type);
		if (r < 0) {
			f->type = PGT_none;
			f->type_count = 0;
			return r;
		}
		f->flags |= FRAME_VALIDATED;
		return 0;
	}
	f->type = (u8)type;
	f->type_count = 1;
	return 0;
#else // SOLUTION(2)
	/* Lab 2: the heart of direct paging -- see the comment at the top of this file.
	 * validate_table() checks a whole table with your get_entry(). */
	(void)d, (void)mfn, (void)type, (void)validate_table;
	lab_stub_warn(NULL, 2, "get_page_type");
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

/* Drop a type reference; the last one of a page table devalidates it. */
void put_page_type(mfn_t mfn)
{
#if SOLUTION(2)
	struct frame *f = frame_of(mfn);
	assert(f && f->type_count > 0);
	if (--f->type_count > 0)
		return;
	if (is_table_type(f->type) && (f->flags & FRAME_VALIDATED)) {
		f->flags &= ~FRAME_VALIDATED;
		devalidate_table(mfn, f->type);
	}
	f->type = PGT_none;
#else // SOLUTION(2)
	/* Lab 2: the mirror image of get_page_type(); devalidate_table() undoes
	 * validate_table(). */
	(void)mfn, (void)devalidate_table;
	lab_stub_warn(NULL, 2, "put_page_type");
#endif // SOLUTION(2)
}

/* Replace entry idx of d's validated table `table` by val: validate the new entry, write
 * it, then release the old one (in that order, so re-writing the same target never lets
 * its counts touch zero). */
static long mod_entry(struct domain *d, mfn_t table, unsigned idx, pte_t val)
{
	struct frame *f = frame_of(table);
	if (!owns(d, table) || !is_table_type(f->type) || !(f->flags & FRAME_VALIDATED))
		return -XEN_EINVAL;
	pte_t *t = mfn_to_virt(table);
	pte_t old = t[idx];
	int r = get_entry(d, val, f->type);
	if (r < 0)
		return r;
	t[idx] = val;
	put_entry(old, f->type);
	return 0;
}

/* Make the pinned L4 `mfn` v's page-table base (its CR3), moving the base reference.  The
 * caller has checked that mfn is a pinned L4 of v's domain.  Since the live base cannot be
 * unpinned, the old base keeps its pin reference and never drops to type count zero here. */
void set_baseptr(struct vcpu *v, mfn_t mfn)
{
	struct frame *old = frame_of(vcpu_ops->get_cr(v, 3) >> PAGE_SHIFT);
	struct frame *new = frame_of(mfn);
	new->count++, new->type_count++;
	old->count--, old->type_count--;
	vcpu_ops->set_cr(v, 3, mfn << PAGE_SHIFT);
}

bool is_pinned_l4(struct domain *d, mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	return owns(d, mfn) && f->type == PGT_l4 && (f->flags & FRAME_PINNED);
}

/* Only DOMID_SELF (or one's own id) is supported as the subject domain. */
static bool self(struct vcpu *v, u64 domid)
{
	return (domid_t)domid == DOMID_SELF || (domid_t)domid == v->dom->id;
}

static long mmu_update_one(struct vcpu *v, const struct mmu_update *u)
{
	struct domain *d = v->dom;
	paddr_t pa = u->ptr & ~3ULL;
	switch (u->ptr & 3) {
	case MMU_NORMAL_PT_UPDATE:
	case MMU_PT_UPDATE_PRESERVE_AD:
		if (pa & 7)
			return -XEN_EINVAL;	/* a PTE is 8-byte aligned */
		return mod_entry(d, pa >> PAGE_SHIFT, (unsigned)(pa & (PAGE_SIZE - 1)) / 8, u->val);
	case MMU_MACHPHYS_UPDATE:
		if (!owns(d, pa >> PAGE_SHIFT))
			return -XEN_EINVAL;
		m2p[pa >> PAGE_SHIFT] = u->val;
		return 0;
	}
	return -XEN_ENOSYS;
}

/* Store how many requests succeeded, if the guest asked. */
static long report_done(struct vcpu *v, u64 done_ptr, u32 done, long r)
{
	if (done_ptr && copy_to_guest(v, done_ptr, &done, sizeof(done)) < 0 && r == 0)
		return -XEN_EFAULT;
	return r;
}

/* mmu_update(reqs, count, done, domid): see include/public/xen.h. */
long do_mmu_update(struct vcpu *v, u64 reqs, u64 count, u64 done_ptr, u64 domid, u64 a5 UNUSED)
{
#if SOLUTION(2)
	if (count > MMU_UPDATE_MAX)
		return -XEN_EINVAL;
	if (!self(v, domid))
		return -XEN_EPERM;
	u32 i;
	long r = 0;
	for (i = 0; i < count; i++) {
		struct mmu_update u;
		if (copy_from_guest(v, &u, reqs + i * sizeof(u), sizeof(u)) < 0) {
			r = -XEN_EFAULT;
			break;
		}
		if ((r = mmu_update_one(v, &u)) < 0)
			break;
	}
	return report_done(v, done_ptr, i, r);
#else // SOLUTION(2)
	/* Lab 2: copy in each request and apply it (mmu_update_one); stop at the first error;
	 * report how many succeeded in *done. */
	(void)reqs, (void)count, (void)done_ptr, (void)domid, (void)self, (void)mmu_update_one,
		(void)report_done;
	lab_stub_warn(v, 2, "do_mmu_update");
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

static long mmuext_one(struct vcpu *v, const struct mmuext_op *op)
{
	struct domain *d = v->dom;
	mfn_t mfn = op->arg1.mfn;
	struct frame *f = frame_of(mfn);
	long r;
	switch (op->cmd) {
	case MMUEXT_PIN_L1_TABLE:
	case MMUEXT_PIN_L2_TABLE:
	case MMUEXT_PIN_L3_TABLE:
	case MMUEXT_PIN_L4_TABLE:
		if (!owns(d, mfn) || (f->flags & FRAME_PINNED))
			return -XEN_EINVAL;
		if ((r = get_page(d, mfn)) < 0)
			return r;
		if ((r = get_page_type(d, mfn, (int)op->cmd - MMUEXT_PIN_L1_TABLE + PGT_l1)) < 0) {
			put_page(mfn);
			return r;
		}
		f->flags |= FRAME_PINNED;
		return 0;
	case MMUEXT_UNPIN_TABLE:
		if (!owns(d, mfn) || !(f->flags & FRAME_PINNED))
			return -XEN_EINVAL;
		if (mfn == vcpu_ops->get_cr(v, 3) >> PAGE_SHIFT)
			return -XEN_EBUSY;	/* the live base must stay pinned */
		f->flags &= ~FRAME_PINNED;
		put_page_type(mfn);
		put_page(mfn);
		return 0;
	case MMUEXT_NEW_BASEPTR:
		if (!is_pinned_l4(d, mfn))
			return -XEN_EINVAL;
		set_baseptr(v, mfn);
		return 0;
	case MMUEXT_TLB_FLUSH_LOCAL:
		return 0;	/* both backends flush the guest TLB on every entry */
	case MMUEXT_INVLPG_LOCAL:
		return IS_CANONICAL(op->arg1.linear_addr) ? 0 : -XEN_EINVAL;	/* XSA-279 */
	}
	return -XEN_ENOSYS;
}

/* mmuext_op(ops, count, done, domid): see include/public/xen.h. */
long do_mmuext_op(struct vcpu *v, u64 ops, u64 count, u64 done_ptr, u64 domid, u64 a5 UNUSED)
{
#if SOLUTION(2)
	if (count > MMU_UPDATE_MAX)
		return -XEN_EINVAL;
	if (!self(v, domid))
		return -XEN_EPERM;
	u32 i;
	long r = 0;
	for (i = 0; i < count; i++) {
		struct mmuext_op op;
		if (copy_from_guest(v, &op, ops + i * sizeof(op), sizeof(op)) < 0) {
			r = -XEN_EFAULT;
			break;
		}
		if ((r = mmuext_one(v, &op)) < 0)
			break;
	}
	return report_done(v, done_ptr, i, r);
#else // SOLUTION(2)
	/* Lab 2: like do_mmu_update, one struct mmuext_op at a time (mmuext_one). */
	(void)ops, (void)count, (void)done_ptr, (void)domid, (void)mmuext_one;
	lab_stub_warn(v, 2, "do_mmuext_op");
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

/* update_va_mapping(va, val, flags): set the L1 entry that maps va in the current address
 * space, as one mmu_update would. */
long do_update_va_mapping(struct vcpu *v, u64 va, u64 val, u64 flags, u64 a4 UNUSED, u64 a5 UNUSED)
{
#if SOLUTION(2)
	if (!IS_CANONICAL(va) || (flags & ~(u64)(UVMF_FLUSHTYPE_MASK | UVMF_ALL)))
		return -XEN_EINVAL;
	mfn_t table = vcpu_ops->get_cr(v, 3) >> PAGE_SHIFT;
	for (int level = 4; level > 1; level--) {
		if (!owns(v->dom, table))
			return -XEN_EINVAL;
		pte_t e = ((pte_t *)mfn_to_virt(table))[PT_INDEX(va, level)];
		if (!(e & PTE_P))
			return -XEN_EINVAL;	/* no L1 table maps va */
		table = PTE_MFN(e);
	}
	return mod_entry(v->dom, table, PT_INDEX(va, 1), val);
#else // SOLUTION(2)
	/* Lab 2: find the L1 table that maps va by walking from CR3, then mod_entry(). */
	(void)va, (void)val, (void)flags;
	lab_stub_warn(v, 2, "do_update_va_mapping");
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

/* ---- the audit: recount every reference of d from its live tables (given, not a lab) ---- */

#define AUDIT_MAX_FRAMES (1U << 18)	/* 1 GiB of RAM */
static u32 want_count[AUDIT_MAX_FRAMES], want_type[AUDIT_MAX_FRAMES];

static int audit_report(struct domain *d, mfn_t m, const char *what, u64 got, u64 want, int bad)
{
	if (bad < 8)
		printf("pvlab: d%u audit: frame %lx %s %lu, expected %lu\n", d->id, m, what, got, want);
	return bad + 1;
}

/* Recompute the counts of every frame of d; print mismatches.  0 if all agree, else
 * -XEN_EINVAL. */
long mm_audit(struct domain *d)
{
	mfn_t n = frames_total();
	if (n > AUDIT_MAX_FRAMES)
		return -XEN_ENOSYS;
	for (mfn_t m = 0; m < n; m++) {
		struct frame *f = frame_of(m);
		want_count[m] = want_type[m] = 0;
		if (f->owner != d->id)
			continue;
		want_count[m] = 1;	/* the allocation */
		if (f->flags & FRAME_PINNED)
			want_count[m]++, want_type[m]++;
	}
	mfn_t base = vcpu_ops->get_cr(&d->vcpu, 3) >> PAGE_SHIFT;
	want_count[base]++, want_type[base]++;
	int bad = 0;
	for (mfn_t m = 0; m < n; m++) {
		struct frame *f = frame_of(m);
		if (f->owner != d->id || !is_table_type(f->type) || !(f->flags & FRAME_VALIDATED))
			continue;
		pte_t *t = mfn_to_virt(m);
		for (int i = 0; i < PT_ENTRIES; i++) {
			if (!(t[i] & PTE_P))
				continue;
			mfn_t tg = PTE_MFN(t[i]);
			int type = f->type > 1 ? f->type - 1 : (t[i] & PTE_W) ? PGT_writable : PGT_none;
			if (!owns(d, tg)) {
				bad = audit_report(d, m, "maps a foreign frame, entry", (u64)i, 0, bad);
				continue;
			}
			want_count[tg]++;
			if (type != PGT_none) {
				want_type[tg]++;
				if (frame_of(tg)->type != type)
					bad = audit_report(d, tg, "has type", frame_of(tg)->type, (u64)type, bad);
			}
		}
	}
	for (mfn_t m = 0; m < n; m++) {
		struct frame *f = frame_of(m);
		if (f->owner != d->id)
			continue;
		if (f->count != want_count[m])
			bad = audit_report(d, m, "count", f->count, want_count[m], bad);
		if (f->type_count != want_type[m])
			bad = audit_report(d, m, "type_count", f->type_count, want_type[m], bad);
		if (is_table_type(f->type) && f->type_count && !(f->flags & FRAME_VALIDATED))
			bad = audit_report(d, m, "is an unvalidated table of level", f->type, 0, bad);
	}
	if (bad)
		printf("pvlab: d%u audit: %d problems\n", d->id, bad);
	return bad ? -XEN_EINVAL : 0;
}

/* Release every reference d's own structures hold (its base pointer and pins), which by
 * the rules devalidates all its tables; then every frame must be back to its allocation
 * reference alone.  Reports (does not hide) accounting that does not come back. */
void mm_teardown(struct domain *d)
{
	mfn_t base = vcpu_ops->get_cr(&d->vcpu, 3) >> PAGE_SHIFT;
	frame_of(base)->count--;
	put_page_type(base);
	for (mfn_t m = 0; m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		if (f->owner == d->id && (f->flags & FRAME_PINNED)) {
			f->flags &= ~FRAME_PINNED;
			put_page_type(m);
			put_page(m);
		}
	}
	unsigned leaks = 0;
	for (mfn_t m = 0; m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		if (f->owner == d->id && (f->count != 1 || f->type_count != 0))
			leaks++;
	}
	if (leaks)
		printf("pvlab: d%u teardown: %u frames still referenced (lab 2 accounting)\n", d->id, leaks);
}
