/*
 * Guest memory: a page allocator over the pseudo-physical frames the builder left free,
 * and conversions between virtual addresses, pfns and mfns (through the P2M, mfn_list).
 *
 * Every pfn has a state (pfn_state[]): in use, free, or ballooned out -- given back to the
 * hypervisor (lab 7), so that it has no machine frame behind it (its P2M entry is
 * INVALID_MFN and its virtual address maps nothing).  The allocator hands out only free
 * pfns, so a ballooned-out pfn is never handed out again until the balloon repopulates it
 * (mm_pfn_populated) and frees it.  Free pages are the pfns above a bump pointer plus a list
 * linked through the pages themselves.
 */
#include "guest/kernel.h"

u64 virt_base, first_free_pfn;
u64 *phys_to_machine;
static u64 next_pfn;		/* bump pointer: pfns >= next_pfn were never handed out */
static void *free_list;		/* freed pages, linked through their first word */
static u64 nr_free_list;	/* pages on free_list */
static u64 nr_ballooned;	/* pfns in state PFN_BALLOONED */
static u8 pfn_state[GUEST_MAX_PFNS];	/* enum pfn_state; pfns >= next_pfn: PFN_FREE */

void mm_init(void)
{
	phys_to_machine = (u64 *)start_info->mfn_list;
	/* The builder maps pfn 0 at the lowest address of our image (guest.ld). */
	extern char _start[];
	virt_base = (u64)_start & ~(LARGE_PAGE_SIZE - 1);
	first_free_pfn = virt_to_pfn((void *)start_info->pt_base) + start_info->nr_pt_frames;
	next_pfn = first_free_pfn;
	if (start_info->nr_pages > GUEST_MAX_PFNS)
		panic("%lu pages: more than this kernel can track", start_info->nr_pages);
	for (u64 pfn = 0; pfn < first_free_pfn; pfn++)
		pfn_state[pfn] = PFN_USED;
}

u64 virt_to_pfn(const void *va)
{
	return ((u64)va - virt_base) >> PAGE_SHIFT;
}

void *pfn_to_virt(u64 pfn)
{
	return (void *)(virt_base + (pfn << PAGE_SHIFT));
}

u64 virt_to_mfn(const void *va)
{
	return phys_to_machine[virt_to_pfn(va)];
}

/* The state of pfn (PFN_FREE above the bump pointer). */
enum pfn_state mm_pfn_state(u64 pfn)
{
	if (pfn >= start_info->nr_pages)
		return PFN_INVALID;
	return pfn >= next_pfn ? PFN_FREE : (enum pfn_state)pfn_state[pfn];
}

/* How many pages alloc_page() could still hand out. */
u64 mm_free_pages(void)
{
	return start_info->nr_pages - next_pfn + nr_free_list;
}

/* A zeroed free page, or NULL when there is none. */
void *alloc_page_try(void)
{
	void *p = free_list;
	if (p) {
		if (pfn_state[virt_to_pfn(p)] != PFN_FREE)
			panic("page allocator: pfn %lx on the free list is not free", virt_to_pfn(p));
		free_list = *(void **)p;
		nr_free_list--;
	} else {
		if (next_pfn >= start_info->nr_pages)
			return NULL;
		p = pfn_to_virt(next_pfn++);
	}
	pfn_state[virt_to_pfn(p)] = PFN_USED;
	memset(p, 0, PAGE_SIZE);
	return p;
}

void *alloc_page(void)
{
	void *p = alloc_page_try();
	if (!p)
		panic("guest out of memory");
	return p;
}

void free_page(void *va)
{
	u64 pfn = virt_to_pfn(va);
	if (mm_pfn_state(pfn) != PFN_USED)
		panic("free_page(%p): pfn %lx is not in use", va, pfn);
	pfn_state[pfn] = PFN_FREE;
	*(void **)va = free_list;
	free_list = va;
	nr_free_list++;
}

/* pfn, a page of ours in use that no longer maps anything (its P2M entry already
 * INVALID_MFN), was given back to the hypervisor: never hand it out again. */
void mm_pfn_ballooned(u64 pfn)
{
	if (mm_pfn_state(pfn) != PFN_USED || phys_to_machine[pfn] != INVALID_MFN)
		panic("mm_pfn_ballooned: pfn %lx is not an unmapped page in use", pfn);
	pfn_state[pfn] = PFN_BALLOONED;
	nr_ballooned++;
}

/* Ballooned-out pfn has a machine frame again (P2M entry set, mapped): it is a page in use,
 * which the caller frees or keeps. */
void mm_pfn_populated(u64 pfn)
{
	if (mm_pfn_state(pfn) != PFN_BALLOONED || phys_to_machine[pfn] == INVALID_MFN)
		panic("mm_pfn_populated: pfn %lx is not a ballooned pfn with a new frame", pfn);
	pfn_state[pfn] = PFN_USED;
	nr_ballooned--;
}

/* How many pfns are ballooned out. */
u64 mm_ballooned_pages(void)
{
	return nr_ballooned;
}
