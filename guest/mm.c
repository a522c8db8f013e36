/*
 * Guest memory: a page allocator over the pseudo-physical frames the builder left free,
 * and conversions between virtual addresses, pfns and mfns (through the P2M, mfn_list).
 */
#include "guest/kernel.h"

u64 virt_base, first_free_pfn;
u64 *phys_to_machine;
static u64 next_pfn;		/* bump pointer */
static void *free_list;		/* freed pages, linked through their first word */

void mm_init(void)
{
	phys_to_machine = (u64 *)start_info->mfn_list;
	/* The builder maps pfn 0 at the lowest address of our image (guest.ld). */
	extern char _start[];
	virt_base = (u64)_start & ~(LARGE_PAGE_SIZE - 1);
	first_free_pfn = virt_to_pfn((void *)start_info->pt_base) + start_info->nr_pt_frames;
	next_pfn = first_free_pfn;
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

void *alloc_page(void)
{
	void *p = free_list;
	if (p) {
		free_list = *(void **)p;
	} else {
		if (next_pfn >= start_info->nr_pages)
			panic("guest out of memory");
		p = pfn_to_virt(next_pfn++);
	}
	memset(p, 0, PAGE_SIZE);
	return p;
}

void free_page(void *va)
{
	*(void **)va = free_list;
	free_list = va;
}
