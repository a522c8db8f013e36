/* Physical frame allocator over the frame table: a LIFO free list threaded through it. */
#include "kern/frame.h"

#define NO_NEXT 0xffffffffu

static struct frame *ftab;
static u64 nr_frames, nr_free;
static u32 free_head = NO_NEXT;

void frames_init(struct frame *table, u64 nframes)
{
	ftab = table;
	nr_frames = nframes;
	nr_free = 0;
	free_head = NO_NEXT;
	for (u64 i = 0; i < nframes; i++)
		ftab[i] = (struct frame){ .owner = OWNER_NONE, .next = NO_NEXT };
}

void frames_add_free(u64 base, u64 len)
{
	u64 first = (base + 4095) >> 12, end = (base + len) >> 12;
	/* Add from the top down so the lowest frames come out of the LIFO list first. */
	for (u64 m = MIN(end, nr_frames); m-- > first;) {
		if (ftab[m].owner != OWNER_NONE)
			continue;
		ftab[m] = (struct frame){ .owner = OWNER_FREE, .next = free_head };
		free_head = (u32)m;
		nr_free++;
	}
}

mfn_t frame_alloc(u16 owner)
{
	if (free_head == NO_NEXT)
		return INVALID_MFN;
	mfn_t m = free_head;
	free_head = ftab[m].next;
	ftab[m] = (struct frame){ .owner = owner, .next = NO_NEXT };
	nr_free--;
	return m;
}

int frame_free(mfn_t mfn)
{
	struct frame *f = frame_of(mfn);
	if (!f || f->owner == OWNER_FREE || f->owner == OWNER_NONE || f->count || f->type_count)
		return -1;
	*f = (struct frame){ .owner = OWNER_FREE, .next = free_head };
	free_head = (u32)mfn;
	nr_free++;
	return 0;
}

struct frame *frame_of(mfn_t mfn)
{
	return mfn < nr_frames ? &ftab[mfn] : NULL;
}

u64 frames_free_count(void)
{
	return nr_free;
}

u64 frames_total(void)
{
	return nr_frames;
}
