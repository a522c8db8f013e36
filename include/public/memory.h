/*
 * memory_op(int cmd, void *arg) (Xen's public/memory.h).  Included by public/xen.h.
 * Lab 7 fills this header: XENMEM_increase_reservation, decrease_reservation,
 * populate_physmap, current/maximum reservation, struct xen_memory_reservation.
 */
