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
 *
 * A frame the hypervisor itself keeps writing after the guest runs (shared info; later
 * grant-table frames, store and ring pages) is shared with share_page_with_guest(): it
 * holds one writable type reference for as long as the domain lives, so it can never be
 * validated as a table -- else our own writes (an event bit, a time record) would become
 * page-table entries nobody validated (Xen's share_xen_page_with_guest).
 *
 * No state a guest can reach trips an assertion here: a count that would drop below zero
 * crashes the frame's owner (domain_crash), never the hypervisor.
 *
 * Nothing a guest asks for holds the CPU beyond its time slice (XSA-45): batches continue
 * later between requests (batch_preempted()), and so does a single request that hooks or
 * unhooks a whole tree of tables -- the tables below are validated ahead and released
 * afterwards, one table at a time (see "preemptible validation" below).
 */
#include "hv/hv.h"

extern u64 *m2p;

/* PTE bits a guest may set: everything but bit 7 (PS, no superpages; in an L1 entry it is
 * PAT, which get_entry() allows) and the reserved bits 52..62 (available bits 9..11 are
 * the guest's). */
#define PTE_GUEST_FLAGS (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_A | PTE_D | PTE_G | PTE_AVAIL | PTE_NX)
/* In the count of a continued batch: the done count so far is in *done (Xen's flag). */
#define MMU_UPDATE_PREEMPTED (1ULL << 31)

static bool owns(struct domain *d, mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	return f && f->owner == d->id;
}

static void finish_deferred(mfn_t mfn);

/* Take a general reference on mfn for d.  0, or -XEN_EINVAL if it is not d's frame.  A
 * table whose devalidation was deferred is finished first: its old entries must not outlive
 * any new use of the frame (such as a writable mapping). */
int get_page(struct domain *d, mfn_t mfn)
{
	if (!owns(d, mfn))
		return -XEN_EINVAL;
	if (frame_of(mfn)->flags & FRAME_DEFERRED)
		finish_deferred(mfn);
	frame_of(mfn)->count++;
	return 0;
}

/* Is `count` of frame mfn about to drop below zero?  Then d's accounting is broken (a lab 2
 * bug, or state a guest reached through one): crash the owner, not the machine, and make
 * the caller skip the release.  During teardown the owner is already dying, and the frame
 * shows up in mm_teardown()'s report of what did not come back. */
static bool count_underflow(mfn_t mfn, u32 count, const char *what)
{
	struct frame *f = frame_of(mfn);
	if (f && count > 0)
		return false;
	if (f && f->owner < MAX_DOMAINS)
		domain_crash(&domains[f->owner], "frame %lx: %s below zero", mfn, what);
	else
		printf("pvlab: frame %lx: %s below zero (not a domain's frame)\n", mfn, what);
	return true;
}

/* Drop a general reference of mfn.  The last reference of an orphan (a frame whose owner
 * died while another domain still mapped it by a grant) frees it. */
void put_page(mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	if (count_underflow(mfn, f ? f->count : 0, "count"))
		return;
	if (--f->count == 0 && (f->flags & FRAME_ORPHAN)) {
		if (f->type_count) {
			printf("pvlab: orphan frame %lx: type count %u left, not freed\n", mfn, f->type_count);
			return;
		}
		f->flags = 0;
		page_free(mfn);
	}
}

/* Share d's frame mfn, which the hypervisor will keep writing while d runs, with d: it gets a
 * permanent writable type reference (dropped only by mm_teardown), so d may map it
 * writable -- that is its purpose -- but can never make it a page table.  Use it for every
 * such frame, right after allocating it (type count 0).  Given code: holds in every lab. */
void share_page_with_guest(struct domain *d, mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	if (!f || f->owner != d->id || f->type_count != 0)
		panic("share_page_with_guest: frame %lx is not a fresh frame of d%u", mfn, d->id);
	f->type = PGT_writable;
	f->type_count = 1;
	f->flags |= FRAME_XEN_SHARED;
}

static bool is_table_type(int type)
{
	return type >= PGT_l1 && type <= PGT_l4;
}

int get_page_type(struct domain *d, mfn_t mfn, int type);
void put_page_type(mfn_t mfn);

/* ---- foreign (grant) mappings: given code, so that lab 2 stands alone ----
 * get_entry() refuses every frame that is not the table owner's, so an entry of a table of
 * domain d that maps a frame d does not own can only have been written by mm_host_map():
 * a grant mapping (lab 5).  Such an entry lives in an L1 table and holds, like any entry, a
 * general and (writable) a type reference on its target -- on the granter's frame.  It goes
 * only through mm_host_unmap(): a guest update that would overwrite it is refused, and a
 * table devalidated with one inside crashes its owner (Xen's "implicit unmap of a granted
 * PTE"), since the grant layer would never learn that the mapping is gone. */

/* Is e, an entry of a table owned by domain `owner`, a grant mapping? */
static bool is_foreign_entry(u16 owner, pte_t e)
{
	struct frame *f = frame_of(PTE_MFN(e));
	return (e & PTE_P) && (!f || f->owner != owner);
}

static void put_entry(pte_t e, int level);

/* Give back entry e of a table of `owner` that is going away (devalidation). */
static void release_entry(u16 owner, pte_t e, int level)
{
	if (is_foreign_entry(owner, e) && owner < MAX_DOMAINS)
		domain_crash(&domains[owner], "implicit unmap of a grant mapping (%lx): use GNTTABOP_unmap_grant_ref",
			     (unsigned long)e);
	put_entry(e, level);
}

/* Validate entry e of a level-`level` table of domain d and take the references it needs.
 * Returns 0 (also for a non-present entry), or a negative errno. */
static int get_entry(struct domain *d, pte_t e, int level)
{
#if SOLUTION(2)
	if (!(e & PTE_P))
		return 0;
	/* Bit 7 is PS (a superpage: refused) above L1, and PAT in an L1 entry: allowed, as in
	 * Xen -- it only picks a memory type of the host's PAT for a frame of the guest's own. */
	if (e & ~(PTE_ADDR_MASK | PTE_GUEST_FLAGS | (level == 1 ? PTE_PAT : 0)))
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

/* ---- preemptible validation and devalidation (XSA-45; given, not a lab) ----
 * Under one table may hang a whole tree: validating or releasing it at once could hold the
 * CPU for seconds.  So devalidation is deferred (devalidate_table() only marks the table;
 * drain_deferred() releases one table at a time, preemptibly, and get_page() finishes a
 * table on demand), and before a batch request runs, prevalidate() validates the unvalidated
 * tables below the one it hooks or pins, bottom-up and preemptibly, holding each with a
 * type reference of its own (FRAME_HELD) until the request is over.  The request itself
 * then only validates one table whose children are typed already: at most 512 entries. */

static u32 deferred_count[MAX_DOMAINS], held_count[MAX_DOMAINS];

/* The last type reference of table mfn (level `level`) is gone: what its entries hold is
 * released later, by drain_deferred() or get_page(). */
static void devalidate_table(mfn_t mfn, int level)
{
	struct frame *f = frame_of(mfn);
	f->flags |= FRAME_DEFERRED;
	f->next = (u32)level;
	deferred_count[f->owner]++;
}

/* Release what the entries of deferred table mfn hold (one table: 512 entries; tables
 * below it whose last reference goes are deferred in turn, not released here). */
static void finish_deferred(mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	pte_t *t = mfn_to_virt(mfn);
	f->flags &= ~FRAME_DEFERRED;
	deferred_count[f->owner]--;
	for (int i = 0; i < PT_ENTRIES; i++)
		release_entry(f->owner, t[i], (int)f->next);
}

#define UNTIL_SLICE_OVER (~0ULL)	/* a drain_deferred() deadline: hypercall_preempt_check() */

/* Is it time to stop: past `deadline` (a TSC value), or with UNTIL_SLICE_OVER once the
 * running vCPU's slice is over?  Never with deadline 0. */
static bool time_up(u64 deadline)
{
	if (deadline == UNTIL_SLICE_OVER)
		return hypercall_preempt_check();
	return deadline && rdtsc() >= deadline;
}

/* Finish d's deferred tables, one at a time; stop (returning false) once time_up(deadline):
 * call again to go on. */
static bool drain_deferred(struct domain *d, u64 deadline)
{
	static mfn_t cursor[MAX_DOMAINS];
	while (deferred_count[d->id]) {
		for (mfn_t m = cursor[d->id]; m < frames_total(); m++) {
			struct frame *f = frame_of(m);
			if (f->owner != d->id || !(f->flags & FRAME_DEFERRED))
				continue;
			if (time_up(deadline)) {
				cursor[d->id] = m;
				return false;
			}
			finish_deferred(m);
		}
		cursor[d->id] = 0;	/* tables deferred behind the cursor: another pass */
	}
	return true;
}

/* Type d's frame c as a table of `level` ahead of a request, with a reference of its own.
 * False if it is not valid as such (the request will fail on it). */
static bool hold(struct domain *d, mfn_t c, int level)
{
	if (get_page(d, c) < 0)
		return false;
	if (get_page_type(d, c, level) < 0) {
		put_page(c);
		return false;
	}
	frame_of(c)->flags |= FRAME_HELD;
	held_count[d->id]++;
	return true;
}

/* Give back every reference hold() took for d. */
static void release_held(struct domain *d)
{
	for (mfn_t m = 0; held_count[d->id] && m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		if (f->owner == d->id && (f->flags & FRAME_HELD)) {
			f->flags &= ~FRAME_HELD;
			held_count[d->id]--;
			put_page_type(m);
			put_page(m);
		}
	}
}

enum { AHEAD_DONE, AHEAD_INVALID, AHEAD_PREEMPTED };

/* mfn is about to become a table of `level`: validate and hold, bottom-up, the untyped
 * tables below it.  AHEAD_PREEMPTED if the slice ended first (what is held stays held, so
 * the request, re-executed, goes on from there); AHEAD_INVALID at the first table that is
 * not valid (the request fails on it, after validating at most one table more per level:
 * retrying would let one bad table hold the request back for ever). */
static int prevalidate(struct domain *d, mfn_t mfn, int level)
{
	if (level < 2 || !owns(d, mfn) || frame_of(mfn)->type_count > 0)
		return AHEAD_DONE;
	const pte_t *t = mfn_to_virt(mfn);
	for (int i = 0; i < PT_ENTRIES; i++) {
		mfn_t c = PTE_MFN(t[i]);
		if (!(t[i] & PTE_P) || !owns(d, c) || frame_of(c)->type_count > 0)
			continue;
		int r = prevalidate(d, c, level - 1);
		if (r != AHEAD_DONE)
			return r;
		if (hypercall_preempt_check())
			return AHEAD_PREEMPTED;
		if (!hold(d, c, level - 1))
			return AHEAD_INVALID;
	}
	return AHEAD_DONE;
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
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

/* Drop a type reference; the last one of a page table devalidates it. */
void put_page_type(mfn_t mfn)
{
#if SOLUTION(2)
	struct frame *f = frame_of(mfn);
	if (count_underflow(mfn, f ? f->type_count : 0, "type count"))
		return;
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
	if (is_foreign_entry(d->id, old))
		return -XEN_EBUSY;	/* a grant mapping: only unmap_grant_ref removes it */
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

/* Store the done count, if the guest asked. */
static long store_done(struct vcpu *v, u64 done_ptr, u32 done, long r)
{
	if (done_ptr && copy_to_guest(v, done_ptr, &done, sizeof(done)) < 0 && r == 0)
		return -XEN_EFAULT;
	return r;
}

/* The batch is over: store how many requests succeeded, if the guest asked; returns r, or
 * -XEN_EFAULT if r was 0 and *done could not be written. */
static long report_done(struct vcpu *v, u64 done_ptr, u32 done, long r)
{
	release_held(v->dom);
	return store_done(v, done_ptr, done, r);
}

/* Validate ahead (prevalidate()) what request `req` of batch op will hook or pin.  False
 * if preempted: re-execute the request. */
static bool prevalidate_request(struct domain *d, u64 op, const void *req)
{
	if (op == __HYPERVISOR_mmu_update) {
		const struct mmu_update *u = req;
		mfn_t table = u->ptr >> PAGE_SHIFT;
		if ((u->ptr & 3) == MMU_MACHPHYS_UPDATE || !(u->val & PTE_P) || !owns(d, table) ||
		    !is_table_type(frame_of(table)->type) || !(frame_of(table)->flags & FRAME_VALIDATED))
			return true;	/* nothing to validate: the request itself says what is wrong */
		return prevalidate(d, PTE_MFN(u->val), frame_of(table)->type - 1) != AHEAD_PREEMPTED;
	}
	const struct mmuext_op *o = req;
	if (o->cmd > MMUEXT_PIN_L4_TABLE)
		return true;
	return prevalidate(d, o->arg1.mfn, (int)o->cmd - MMUEXT_PIN_L1_TABLE + PGT_l1) != AHEAD_PREEMPTED;
}

/* A batch that was continued (MMU_UPDATE_PREEMPTED in *count) resumes its done count
 * from the guest's *done, where the preempted part left it (a guest that changes it in
 * between only miscounts its own batch).  Clears the flag; 0 or -XEN_EFAULT. */
static long resume_done(struct vcpu *v, u64 *count, u64 done_ptr, u32 *done)
{
	*done = 0;
	if (!(*count & MMU_UPDATE_PREEMPTED))
		return 0;
	*count &= ~MMU_UPDATE_PREEMPTED;
	if (done_ptr && copy_from_guest(v, done, done_ptr, sizeof(*done)) < 0)
		return -XEN_EFAULT;
	return 0;
}

/* Before request i (copied in at req) of a batch of hypercall op: give back what request
 * i-1 held, finish deferred devalidations and validate ahead what request i needs -- and
 * once the slice is over, record the done count and return true with *r set to the
 * continuation (the rest of the batch, at reqs + i * size, flagged so that the next part
 * adds to the done count).  False: go on with request i. */
static bool batch_preempted(struct vcpu *v, u64 op, const void *req, u64 reqs, size_t size, u64 i,
			    u64 count, u64 done_ptr, u32 done, u64 domid, long *r)
{
	if (i > 0)
		release_held(v->dom);
	if (drain_deferred(v->dom, UNTIL_SLICE_OVER) && prevalidate_request(v->dom, op, req) &&
	    (i == 0 || !hypercall_preempt_check()))
		return false;
	*r = store_done(v, done_ptr, done + (u32)i, 0);
	if (*r == 0)
		*r = hypercall_create_continuation(v, op, reqs + i * size,
						   (count - i) | MMU_UPDATE_PREEMPTED, done_ptr, domid, 0);
	return true;
}

/* mmu_update(reqs, count, done, domid): see include/public/xen.h. */
long do_mmu_update(struct vcpu *v, u64 reqs, u64 count, u64 done_ptr, u64 domid, u64 a5 UNUSED)
{
#if SOLUTION(2)
	u32 done;
	long r = resume_done(v, &count, done_ptr, &done);
	if (r < 0)
		return r;
	if (count > MMU_UPDATE_MAX)
		return -XEN_EINVAL;
	if (!self(v, domid))
		return -XEN_EPERM;
	u32 i;
	for (i = 0; i < count; i++) {
		struct mmu_update u;
		if (copy_from_guest(v, &u, reqs + i * sizeof(u), sizeof(u)) < 0) {
			r = -XEN_EFAULT;
			break;
		}
		if (batch_preempted(v, __HYPERVISOR_mmu_update, &u, reqs, sizeof(u), i, count, done_ptr,
				    done, domid, &r))
			return r;
		if ((r = mmu_update_one(v, &u)) < 0)
			break;
	}
	return report_done(v, done_ptr, done + i, r);
#else // SOLUTION(2)
	/* Lab 2: copy in each request and apply it (mmu_update_one); stop at the first error;
	 * report how many succeeded in *done.  Stay preemptible (XSA-45): resume_done() first,
	 * and for each request, once copied in, if batch_preempted() says so, return what it
	 * says. */
	(void)reqs, (void)count, (void)done_ptr, (void)domid, (void)self, (void)mmu_update_one,
		(void)report_done, (void)resume_done, (void)batch_preempted;
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
	u32 done;
	long r = resume_done(v, &count, done_ptr, &done);
	if (r < 0)
		return r;
	if (count > MMU_UPDATE_MAX)
		return -XEN_EINVAL;
	if (!self(v, domid))
		return -XEN_EPERM;
	u32 i;
	for (i = 0; i < count; i++) {
		struct mmuext_op op;
		if (copy_from_guest(v, &op, ops + i * sizeof(op), sizeof(op)) < 0) {
			r = -XEN_EFAULT;
			break;
		}
		if (batch_preempted(v, __HYPERVISOR_mmuext_op, &op, ops, sizeof(op), i, count, done_ptr,
				    done, domid, &r))
			return r;
		if ((r = mmuext_one(v, &op)) < 0)
			break;
	}
	return report_done(v, done_ptr, done + i, r);
#else // SOLUTION(2)
	/* Lab 2: like do_mmu_update, one struct mmuext_op at a time (mmuext_one). */
	(void)ops, (void)count, (void)done_ptr, (void)domid, (void)mmuext_one;
	lab_stub_warn(v, 2, "do_mmuext_op");
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

/* The L1 table that maps va in the address space whose L4 is `base`, walked through d's
 * own tables (given: lab 2's update_va_mapping and lab 5's grant mappings both need it).
 * Returns its frame, or INVALID_MFN if va is not canonical or no table of d maps it. */
static mfn_t va_to_l1(struct domain *d, mfn_t base, u64 va)
{
	if (!IS_CANONICAL(va))
		return INVALID_MFN;
	mfn_t table = base;
	for (int level = 4; level > 1; level--) {
		if (!owns(d, table))
			return INVALID_MFN;
		pte_t e = ((pte_t *)mfn_to_virt(table))[PT_INDEX(va, level)];
		if (!(e & PTE_P))
			return INVALID_MFN;	/* no L1 table maps va */
		table = PTE_MFN(e);
	}
	return table;
}

/* update_va_mapping(va, val, flags): set the L1 entry that maps va in the current address
 * space, as one mmu_update would. */
long do_update_va_mapping(struct vcpu *v, u64 va, u64 val, u64 flags, u64 a4 UNUSED, u64 a5 UNUSED)
{
#if SOLUTION(2)
	if (flags & ~(u64)(UVMF_FLUSHTYPE_MASK | UVMF_ALL))
		return -XEN_EINVAL;
	mfn_t table = va_to_l1(v->dom, vcpu_ops->get_cr(v, 3) >> PAGE_SHIFT, va);
	if (table == INVALID_MFN)
		return -XEN_EINVAL;
	return mod_entry(v->dom, table, PT_INDEX(va, 1), val);
#else // SOLUTION(2)
	/* Lab 2: find the L1 table that maps va with va_to_l1(), then mod_entry(). */
	(void)va, (void)val, (void)flags, (void)va_to_l1;
	lab_stub_warn(v, 2, "do_update_va_mapping");
	return -XEN_ENOSYS;
#endif // SOLUTION(2)
}

/* The entry of d's validated L1 table that maps page-aligned va in d's current address
 * space, or NULL. */
static pte_t *host_slot(struct domain *d, u64 va)
{
	if (va & (PAGE_SIZE - 1))
		return NULL;
	mfn_t l1 = va_to_l1(d, vcpu_ops->get_cr(&d->vcpu, 3) >> PAGE_SHIFT, va);
	struct frame *f = frame_of(l1);
	if (l1 == INVALID_MFN || !owns(d, l1) || f->type != PGT_l1 || !(f->flags & FRAME_VALIDATED))
		return NULL;
	return (pte_t *)mfn_to_virt(l1) + PT_INDEX(va, 1);
}

/* Grant mapping, the lab 2 half (given): map frame mfn, which its owner granted to d (the
 * caller, lab 5's map_grant_ref, has checked the grant), at page-aligned va of d's current
 * address space, writable or not.  The entry takes a general reference on mfn and, when
 * writable, a writable type reference -- so lab 2's rules keep holding: a page table is
 * never mapped writable, a frame mapped writable never becomes one.  Nothing may be mapped
 * at va yet.  0, -XEN_EINVAL (va not page-aligned or not in a validated L1 of d; mfn not
 * another live domain's frame) or -XEN_EBUSY (va in use; writable but mfn is typed as
 * something else, such as a page table). */
long mm_host_map(struct domain *d, u64 va, mfn_t mfn, bool writable)
{
	pte_t *slot = host_slot(d, va);
	struct frame *f = frame_of(mfn);
	if (!slot || !f || f->owner >= MAX_DOMAINS || f->owner == d->id ||
	    domains[f->owner].state != DOM_RUNNING)
		return -XEN_EINVAL;
	if (*slot & PTE_P)
		return -XEN_EBUSY;
	struct domain *g = &domains[f->owner];
	if (get_page(g, mfn) < 0)
		return -XEN_EINVAL;
	if (writable && get_page_type(g, mfn, PGT_writable) < 0) {
		put_page(mfn);
		return -XEN_EBUSY;
	}
	*slot = (mfn << PAGE_SHIFT) | PTE_P | PTE_U | PTE_A | (writable ? PTE_W | PTE_D : 0);
	return 0;
}

/* Undo mm_host_map(d, va, mfn, ...): va must still map mfn by a grant mapping.  0 or
 * -XEN_EINVAL. */
long mm_host_unmap(struct domain *d, u64 va, mfn_t mfn)
{
	pte_t *slot = host_slot(d, va);
	if (!slot || !is_foreign_entry(d->id, *slot) || PTE_MFN(*slot) != mfn)
		return -XEN_EINVAL;
	pte_t old = *slot;
	*slot = 0;
	put_entry(old, 1);
	return 0;
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

/* Add to want_count/want_type what the entries of live (or deferred) tables take on d's
 * frames: of every domain's tables (grant mappings of d's frames included), or only of other
 * domains' with `others`.  A foreign entry of d's own tables is checked too: only an L1
 * entry may be one (a grant mapping), of a live domain's frame or an orphan.  Returns `bad`
 * plus the problems reported. */
static int count_entries(struct domain *d, bool others, int bad)
{
	for (mfn_t m = 0; m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		bool live = is_table_type(f->type) && (f->flags & FRAME_VALIDATED);
		if (f->owner >= MAX_DOMAINS || (others && f->owner == d->id) ||
		    !(live || (f->flags & FRAME_DEFERRED)))
			continue;
		int level = live ? f->type : (int)f->next;	/* a deferred table's entries count too */
		pte_t *t = mfn_to_virt(m);
		for (int i = 0; i < PT_ENTRIES; i++) {
			if (!(t[i] & PTE_P))
				continue;
			mfn_t tg = PTE_MFN(t[i]);
			struct frame *tf = frame_of(tg);
			bool foreign = is_foreign_entry(f->owner, t[i]);
			if (foreign && f->owner == d->id && (level > 1 || !tf || (tf->owner >= MAX_DOMAINS && !(tf->flags & FRAME_ORPHAN))))
				bad = audit_report(&domains[f->owner], m, "maps a foreign frame, entry", (u64)i, 0, bad);
			if (!tf || tf->owner != d->id)
				continue;
			int type = level > 1 ? level - 1 : (t[i] & PTE_W) ? PGT_writable : PGT_none;
			want_count[tg]++;
			if (type != PGT_none) {
				want_type[tg]++;
				if (tf->type != type)
					bad = audit_report(d, tg, "has type", tf->type, (u64)type, bad);
			}
		}
	}
	return bad;
}

/* Recompute the counts of every frame of d; print mismatches.  0 if all agree, else
 * -XEN_EINVAL. */
long mm_audit(struct domain *d)
{
	mfn_t n = frames_total();
	int bad = 0;
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
		if (f->flags & FRAME_HELD)
			want_count[m]++, want_type[m]++;
		if (f->flags & FRAME_XEN_SHARED) {
			want_type[m]++;	/* the permanent writable reference */
			if (f->type != PGT_writable)
				bad = audit_report(d, m, "is shared but has type", f->type, PGT_writable, bad);
		}
	}
	mfn_t base = vcpu_ops->get_cr(&d->vcpu, 3) >> PAGE_SHIFT;
	want_count[base]++, want_type[base]++;
	bad = count_entries(d, false, bad);
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

/* d is dying and its own references are gone; frames of d that other domains still map by
 * grant mappings must outlive it (no use-after-free): they become orphans, no domain's,
 * keeping the mappings' references, and the last put_page() frees them.  Reports them. */
static void orphan_mapped_frames(struct domain *d)
{
	mfn_t n = frames_total();
	bool counted = n <= AUDIT_MAX_FRAMES;	/* else: every frame still referenced */
	unsigned orphans = 0;
	for (mfn_t m = 0; counted && m < n; m++)
		want_count[m] = want_type[m] = 0;
	if (counted)
		count_entries(d, true, 0);
	for (mfn_t m = 0; m < n; m++) {
		struct frame *f = frame_of(m);
		if (f->owner != d->id || !(counted ? want_count[m] > 0 : f->count > 1))
			continue;
		if (counted && (f->count != 1 + want_count[m] || f->type_count != want_type[m]))
			printf("pvlab: d%u teardown: frame %lx count %u type_count %u, mapped %u/%u by others\n",
			       d->id, m, f->count, f->type_count, want_count[m], want_type[m]);
		f->owner = OWNER_XEN;
		f->flags = FRAME_ORPHAN;
		if (f->count > 1)
			f->count--;	/* the allocation reference */
		m2p[m] = ~0ULL;
		orphans++;
	}
	if (orphans)
		printf("pvlab: d%u teardown: %u frames still mapped by other domains (grants), freed at their last unmap\n",
		       d->id, orphans);
}

/* Release every reference d's own structures hold (its base pointer, pins and the
 * hypervisor's shares), which by the rules devalidates all its tables; then every frame
 * must be back to its allocation reference alone.  Reports (does not hide) accounting that
 * does not come back.  Releasing a big tree takes long: this stops at `deadline` (a TSC
 * value; 0: none) and returns false, to be called again until it returns true. */
bool mm_teardown(struct domain *d, u64 deadline)
{
	static bool released[MAX_DOMAINS];	/* the first part is done, tables are draining */
	if (released[d->id])
		goto drain;
	released[d->id] = true;
	mfn_t base = vcpu_ops->get_cr(&d->vcpu, 3) >> PAGE_SHIFT;
	release_held(d);
	put_page_type(base);
	put_page(base);
	for (mfn_t m = 0; m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		if (f->owner == d->id && (f->flags & FRAME_PINNED)) {
			f->flags &= ~FRAME_PINNED;
			put_page_type(m);
			put_page(m);
		}
	}
	for (mfn_t m = 0; m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		if (f->owner == d->id && (f->flags & FRAME_XEN_SHARED)) {
			/* Given code, not put_page_type(): a writable type has nothing to devalidate,
			 * and this must hold before lab 2 is written too. */
			f->flags &= ~FRAME_XEN_SHARED;
			if (f->type_count && --f->type_count == 0)
				f->type = PGT_none;
		}
	}
drain:
	if (!drain_deferred(d, deadline))
		return false;
	released[d->id] = false;
	orphan_mapped_frames(d);
	unsigned leaks = 0;
	for (mfn_t m = 0; m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		if (f->owner == d->id && (f->count != 1 || f->type_count != 0))
			leaks++;
	}
	if (leaks)
		printf("pvlab: d%u teardown: %u frames still referenced (lab 2 accounting)\n", d->id, leaks);
	return true;
}
