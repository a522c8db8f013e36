/*
 * The frame table: one small record per machine frame, saying who owns it and how it is
 * used.  Lab 2 builds page-table type checking on the `type`, `type_count` and `count`
 * fields.  This file is pure data structure code: it never touches the frames themselves,
 * which is why the host-side unit tests can run it as an ordinary program.
 */
#ifndef PVLAB_FRAME_H
#define PVLAB_FRAME_H

#include "types.h"

#define INVALID_MFN (~0ULL)
#define OWNER_FREE 0xffff	/* on the free list */
#define OWNER_NONE 0xfffe	/* not usable RAM (or not added yet) */
#define OWNER_XEN 0x7ff2	/* the hypervisor's own (== DOMID_XEN) */

/* Frame types (lab 2).  A frame has one type at a time, changed only when type_count is 0. */
enum frame_type {
	PGT_none = 0,
	PGT_l1 = 1,		/* a level-1 page table ... */
	PGT_l2 = 2,
	PGT_l3 = 3,
	PGT_l4 = 4,		/* ... up to the top level */
	PGT_writable = 5,	/* mapped writable somewhere */
	PGT_seg = 6,		/* reserved: descriptor tables */
};

struct frame {
	u16 owner;		/* domid, OWNER_XEN (also an orphan) or OWNER_FREE */
	u8 type;		/* enum frame_type */
	u8 flags;		/* FRAME_* */
	u32 type_count;		/* references that rely on the type (lab 2) */
	u32 count;		/* general references: mappings, pins, allocation (lab 2) */
	u32 next;		/* free-list link (index) while owner == OWNER_FREE; the level
				 * of a FRAME_DEFERRED table (hv/mm.c) */
};
STATIC_ASSERT(sizeof(struct frame) == 16);
#define FRAME_PINNED BIT(0)	/* pinned by its owner (lab 2) */
#define FRAME_VALIDATED BIT(1)	/* its entries were checked for the current type (lab 2) */
#define FRAME_XEN_SHARED BIT(2)	/* written by the hypervisor: a permanent writable type ref */
#define FRAME_DEFERRED BIT(3)	/* untyped, but its entries still hold references (hv/mm.c) */
#define FRAME_HELD BIT(4)	/* validated ahead of a preempted request (hv/mm.c) */
#define FRAME_ORPHAN BIT(5)	/* owner died while a grant mapping held it: freed by its last put */

/* Set up the table over `nframes` frames, all OWNER_NONE until frames_add_free() adds them. */
void frames_init(struct frame *table, u64 nframes);
/* Add the frames of [base, base + len) (rounded inwards to whole frames) to the free list;
 * frames already added (free or allocated) are left alone. */
void frames_add_free(u64 base, u64 len);
/* Take a free frame for `owner`; INVALID_MFN when none is left. */
mfn_t frame_alloc(u16 owner);
/* Return a frame to the free list.  Returns -1 (and changes nothing) if it is not an
 * allocated frame with both counts zero. */
int frame_free(mfn_t mfn);
/* The record of mfn, or NULL if mfn is outside the table. */
struct frame *frame_of(mfn_t mfn);
u64 frames_free_count(void);
u64 frames_total(void);

#endif
