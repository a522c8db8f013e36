/* kern/frame.c: the frame table's free list, on a table in ordinary memory. */
#include "check.h"
#include "kern/frame.h"

static struct frame table[64];

int main(void)
{
	frames_init(table, 64);
	CHECK(frames_total() == 64);
	CHECK(frames_free_count() == 0);
	CHECK(frame_alloc(1) == INVALID_MFN);

	/* [0x3800, 0x9000): partial frames at either end are not usable */
	frames_add_free(0x3800, 0x5800);
	CHECK(frames_free_count() == 5);	/* frames 4..8 */
	mfn_t a = frame_alloc(7);
	CHECK(a == 4);				/* lowest first */
	CHECK(frame_of(a)->owner == 7);
	CHECK(frames_free_count() == 4);

	/* adding the same range again does not double-count */
	frames_add_free(0x4000, 0x5000);
	CHECK(frames_free_count() == 4);

	/* frees only allocated frames with zero counts */
	CHECK(frame_free(a + 1) == -1);		/* still free: refused */
	frame_of(a)->count = 1;
	CHECK(frame_free(a) == -1);		/* referenced: refused */
	frame_of(a)->count = 0;
	CHECK(frame_free(a) == 0);
	CHECK(frame_of(a)->owner == OWNER_FREE);
	CHECK(frames_free_count() == 5);
	CHECK(frame_alloc(3) == a);		/* LIFO: the freed frame comes back first */

	/* beyond the table */
	CHECK(frame_of(64) == NULL);
	CHECK(frame_free(1000) == -1);
	frames_add_free(60 << 12, 10 << 12);	/* clipped to the table */
	CHECK(frames_free_count() == 4 + 4);

	/* drain */
	int n = 0;
	while (frame_alloc(2) != INVALID_MFN)
		n++;
	CHECK(n == 8);
	return check_report("host frame");
}
