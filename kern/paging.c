/*
 * The hypervisor's page tables: a direct map (virtual == machine address) of the first
 * 4 GiB with 2 MiB pages, the memory-mapped I/O hole uncached.  Guests never run on these
 * tables: each vCPU runs on its own guest's page tables.
 */
#include "kern/kernel.h"

static pte_t *new_table(void)
{
	mfn_t m = page_alloc(OWNER_XEN);
	if (m == INVALID_MFN)
		panic("out of memory building the host page tables");
	return mfn_to_virt(m);
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
	write_cr3(va2pa(l4));
}
