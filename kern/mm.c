/*
 * Physical memory for the hypervisor: finds usable RAM, places the frame table, and hands
 * out zeroed pages.  All RAM is identity-mapped (kern/paging.c), so a frame's machine
 * address is also the pointer the hypervisor uses to touch it.
 */
#include "kern/kernel.h"

extern char __image_start[], __image_end[];

/* Size the frame table to cover all RAM, place it in the first RAM above the image, and
 * free every RAM frame that is not the image, the table or below 1 MiB. */
void mm_init(void)
{
	u64 top = 0;
	for (int i = 0; i < boot.nr_ram; i++)
		top = MAX(top, boot.ram[i].base + boot.ram[i].len);
	if (top > (4ULL << 30))
		top = 4ULL << 30;	/* the boot map covers 4 GiB: RAM above is not used */
	u64 nframes = top >> PAGE_SHIFT;
	paddr_t table = ROUNDUP(va2pa(__image_end), PAGE_SIZE);
	u64 tsize = ROUNDUP(nframes * sizeof(struct frame), PAGE_SIZE);
	paddr_t reserved_end = table + tsize;
	/* Boot modules (a guest image given with -initrd) must survive too. */
	for (int i = 0; i < boot.nr_mod; i++)
		reserved_end = MAX(reserved_end, ROUNDUP(boot.mod[i].start + boot.mod[i].len, PAGE_SIZE));

	frames_init(pa2va(table), nframes);
	for (int i = 0; i < boot.nr_ram; i++) {
		u64 b = boot.ram[i].base, e = MIN(b + boot.ram[i].len, top);
		b = MAX(b, 0x100000ULL);
		if (b < reserved_end && e > va2pa(__image_start))
			b = MAX(b, reserved_end);	/* the image, table and modules sit here */
		if (e > b)
			frames_add_free(b, e - b);
	}
	printf("pvlab: %lu MiB RAM, %lu frames free, frame table at %lx\n",
	       top >> 20, frames_free_count(), table);
}

mfn_t page_alloc(u16 owner)
{
	mfn_t m = frame_alloc(owner);
	if (m != INVALID_MFN)
		memset(mfn_to_virt(m), 0, PAGE_SIZE);
	return m;
}

void page_free(mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	if (frame_free(mfn) < 0)
		panic("page_free: frame %lx is not free-able (owner %x type %u count %u type_count %u)",
		      mfn, f ? f->owner : 0, f ? f->type : 0, f ? f->count : 0, f ? f->type_count : 0);
}
