/*
 * The hypervisor's page tables: a direct map (virtual == machine address) of the first
 * 4 GiB with 2 MiB pages, the memory-mapped I/O hole uncached.  Guests never run on these
 * tables: each vCPU runs on its own guest's page tables.
 *
 * A few 4 KiB holes are left unmapped so that bugs fault at the guilty instruction (and the
 * #PF dump names its line) instead of quietly reading or overwriting memory: page 0, so
 * that a NULL pointer dereference or a call through a NULL function pointer faults, and a
 * guard page under each hypervisor stack, so that an overflow faults.  Nothing reads page 0
 * after boot: boot_parse() has copied what it needs from the boot structures (none of
 * which are in page 0) before paging_init(), frames below 1 MiB are never allocated
 * (mm_init), and there are no AP trampolines.
 */
#include "kern/kernel.h"

static pte_t *new_table(void)
{
	mfn_t m = page_alloc(OWNER_XEN);
	if (m == INVALID_MFN)
		panic("out of memory building the host page tables");
	return mfn_to_virt(m);
}

/* Unmap the 4 KiB page at va (below 4 GiB), first splitting the 2 MiB page that maps it
 * into 4 KiB pages with the same attributes. */
static void unmap_4k(pte_t *l3, u64 va)
{
	pte_t *l2 = pa2va(l3[(va >> 30) & 3] & PTE_ADDR_MASK);
	pte_t *pde = &l2[(va >> 21) & (PT_ENTRIES - 1)];
	if (*pde & PTE_PS) {
		pte_t *l1 = new_table();
		pte_t flags = *pde & ~(PTE_ADDR_MASK | PTE_PS);
		for (u64 i = 0; i < PT_ENTRIES; i++)
			l1[i] = ((*pde & PTE_ADDR_MASK) + (i << PAGE_SHIFT)) | flags;
		*pde = va2pa(l1) | PTE_P | PTE_W;
	}
	pte_t *l1 = pa2va(*pde & PTE_ADDR_MASK);
	l1[(va >> PAGE_SHIFT) & (PT_ENTRIES - 1)] = 0;
}

void paging_init(void)
{
	pte_t *l4 = new_table(), *l3 = new_table();
	l4[0] = va2pa(l3) | PTE_P | PTE_W;
	for (u64 gb = 0; gb < 4; gb++) {
		pte_t *l2 = new_table();
		l3[gb] = va2pa(l2) | PTE_P | PTE_W;
		for (u64 i = 0; i < PT_ENTRIES; i++) {
			paddr_t pa = (gb << 30) | (i << 21);
			pte_t flags = PTE_P | PTE_W | PTE_PS;
			if (pa >= 0xc0000000ULL)
				flags |= PTE_PCD | PTE_PWT | PTE_NX;	/* MMIO hole: LAPIC, IOAPIC */
			l2[i] = pa | flags;
		}
	}
	unmap_4k(l3, 0);
	unmap_4k(l3, (u64)boot_stack_guard);
	for (int i = 0; i < NR_IST_STACKS; i++)
		unmap_4k(l3, (u64)ist_stack_guard(i));
	write_cr3(va2pa(l4));
}
