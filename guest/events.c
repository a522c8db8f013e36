/*
 * Events in the guest (lab 3, lab 4).  The hypervisor raises an event by setting a bit in
 * shared memory and, at most, one upcall: the callback vector, whose handler scans the
 * bitmaps (public/event_channel.h) and calls one handler per pending port.
 */
#include "guest/kernel.h"

volatile u64 upcalls;
static evtchn_handler_t handlers[64 * 64];	/* every bit of the 2-level bitmap */

void evtchn_set_handler(unsigned port, evtchn_handler_t h)
{
	if (port < ARRAY_SIZE(handlers))
		handlers[port] = h;
}

/* The upcall: clear upcall_pending, take the selector, then for each selected word the
 * pending and unmasked bits, clearing each before calling its handler. */
void evtchn_upcall(void)
{
#if SOLUTION(3)
	struct vcpu_info *vi = &shared_info->vcpu_info[0];
	upcalls++;
	WRITE_ONCE(vi->evtchn_upcall_pending, 0);
	u64 sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	while (sel) {
		unsigned w = ffs_long(sel);
		sel &= sel - 1;
		u64 pending;
		while ((pending = shared_info->evtchn_pending[w] & ~shared_info->evtchn_mask[w])) {
			unsigned port = w * 64 + ffs_long(pending);
			__atomic_fetch_and(&shared_info->evtchn_pending[w], ~(1ULL << (port % 64)), __ATOMIC_SEQ_CST);
			if (handlers[port])
				handlers[port](port);
		}
	}
#else // SOLUTION(3)
	/* Lab 3: clear upcall_pending, exchange the selector with 0, and for each set
	 * selector bit handle (clear, then call handlers[port]) every pending unmasked port
	 * of that word. */
	panic("lab 3: evtchn_upcall not implemented");
#endif // SOLUTION(3)
}
