/*
 * Reaching guest memory through a guest pointer.
 *
 * A hypercall argument such as console_io's buffer is a guest *virtual* address.  The
 * hypervisor cannot just dereference it: it runs on its own page tables, and the pointer may
 * be anything a buggy or hostile guest chooses -- NULL, non-canonical, unmapped, read-only,
 * or aimed at a page table or at another domain's memory.  So we translate it by walking the
 * guest's own four-level page tables in software, exactly as the MMU would, and refuse
 * (-XEN_EFAULT) anything the guest itself could not access -- plus anything that is not the
 * domain's own memory, which direct paging should already make impossible (belt and braces).
 */
#include "hv/hv.h"

/* Is mfn a frame that domain d owns? */
static bool owned_by(struct domain *d, mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	return f && f->owner == d->id;
}

/* Translate guest virtual address va for a read (or a write if `write`) by v's domain into
 * the machine address *ma.  Returns 0, or -XEN_EFAULT if the guest could not make that
 * access itself, or if any frame on the way is not the domain's. */
int guest_walk(struct vcpu *v, u64 va, bool write, paddr_t *ma)
{
#if SOLUTION(1)
	if (!IS_CANONICAL(va))
		return -XEN_EFAULT;
	paddr_t table = vcpu_ops->get_cr(v, 3) & PTE_ADDR_MASK;
	for (int level = 4; level >= 1; level--) {
		if (!owned_by(v->dom, table >> PAGE_SHIFT))
			return -XEN_EFAULT;
		pte_t e = ((pte_t *)pa2va(table))[PT_INDEX(va, level)];
		if (!(e & PTE_P) || (write && !(e & PTE_W)))
			return -XEN_EFAULT;
		if (level > 1 && (e & PTE_PS))
			return -XEN_EFAULT;	/* pvlab guests have no superpages */
		table = e & PTE_ADDR_MASK;
	}
	struct frame *f = frame_of(table >> PAGE_SHIFT);
	if (!owned_by(v->dom, table >> PAGE_SHIFT))
		return -XEN_EFAULT;
	/* A page table is never written through a guest pointer, even one that maps it
	 * writable by mistake: its entries change only through validated updates (lab 2). */
	if (write && f->type >= PGT_l1 && f->type <= PGT_l4)
		return -XEN_EFAULT;
	*ma = table | (va & (PAGE_SIZE - 1));
	return 0;
#else // SOLUTION(1)
	/* Lab 1: walk the guest's page tables from its CR3 (vcpu_ops->get_cr(v, 3)) down to
	 * the frame that maps va; see handouts/lab1-hypercalls.md for every check. */
	(void)va, (void)write, (void)ma, (void)owned_by;
	lab_stub_warn(v, 1, "guest_walk");
	return -XEN_EFAULT;
#endif // SOLUTION(1)
}

/* Walk every page of [va, va + n) first, so that a bad page anywhere makes the whole copy
 * fail before a single byte moves.  Returns 0 or -XEN_EFAULT. */
long guest_access_ok(struct vcpu *v, u64 va, size_t n, bool write)
{
	paddr_t ma;
	if (va + n < va)
		return -XEN_EFAULT;	/* wraps around the address space */
	for (u64 p = va & PAGE_MASK; n && p < va + n; p += PAGE_SIZE)
		if (guest_walk(v, p < va ? va : p, write, &ma) < 0)
			return -XEN_EFAULT;
	return 0;
}

/* Copy n bytes in or out of guest virtual memory at gva, page by page. */
static long copy_guest(struct vcpu *v, u64 gva, void *buf, size_t n, bool to_guest)
{
	if (guest_access_ok(v, gva, n, to_guest) < 0)
		return -XEN_EFAULT;
	u8 *b = buf;
	while (n) {
		paddr_t ma;
		size_t chunk = MIN(n, PAGE_SIZE - (gva & (PAGE_SIZE - 1)));
		if (guest_walk(v, gva, to_guest, &ma) < 0)
			return -XEN_EFAULT;
		if (to_guest)
			memcpy(pa2va(ma), b, chunk);
		else
			memcpy(b, pa2va(ma), chunk);
		gva += chunk, b += chunk, n -= chunk;
	}
	return 0;
}

long copy_from_guest(struct vcpu *v, void *dst, u64 src, size_t n)
{
	return copy_guest(v, src, dst, n, false);
}

long copy_to_guest(struct vcpu *v, u64 dst, const void *src, size_t n)
{
	return copy_guest(v, dst, (void *)src, n, true);
}

/* Copy the NUL-terminated guest string at src into dst[size], page by page: a string ends
 * where it ends, so unlike copy_from_guest() we cannot check the whole range first, and a
 * page after the NUL may well be unmapped.  Returns the length (without the NUL),
 * -XEN_EFAULT if a byte before the NUL cannot be read, -XEN_E2BIG if no NUL comes within
 * size - 1 bytes.  dst is always NUL-terminated (empty on error). */
long copy_string_from_guest(struct vcpu *v, char *dst, u64 src, size_t size)
{
	size_t len = 0;
	if (!size)
		return -XEN_E2BIG;
	dst[0] = 0;
	while (len < size) {	/* the NUL may be byte size - 1 */
		paddr_t ma;
		if (src + len < src || guest_walk(v, src + len, false, &ma) < 0)
			return dst[0] = 0, -XEN_EFAULT;
		const char *bytes = pa2va(ma);
		size_t chunk = MIN(size - len, PAGE_SIZE - ((src + len) & (PAGE_SIZE - 1)));
		for (size_t i = 0; i < chunk; i++, len++)
			if (!(dst[len] = bytes[i]))
				return (long)len;
	}
	dst[0] = 0;
	return -XEN_E2BIG;
}
