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

/* ---------------------------------------------------------------------------------------
 * Lab 4: a small event-channel API over EVTCHNOP_* (public/event_channel.h).
 */

static bool irqs_off(void)
{
	bool was_on = read_rflags() & RFLAGS_IF;
	cli();
	return was_on;
}

static void irqs_restore(bool was_on)
{
	if (was_on)
		sti();
}

/* Attach handler h to a port we just got, with interrupts off since before the hypercall,
 * so that an upcall for it (bind_interdomain marks the port pending) finds the handler. */
static long attach(long port, evtchn_handler_t h, bool was_on)
{
	if (port > 0)
		evtchn_set_handler((unsigned)port, h);
	irqs_restore(was_on);
	return port;
}

/* A new port, unbound, that domain `remote` (DOMID_SELF: we) may bind; handler h. */
long evtchn_alloc_unbound(domid_t remote, evtchn_handler_t h)
{
#if SOLUTION(4)
	struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = remote };
	bool was_on = irqs_off();
	long r = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a);
	return attach(r < 0 ? r : a.port, h, was_on);
#else // SOLUTION(4)
	/* Lab 4: EVTCHNOP_alloc_unbound for DOMID_SELF; the port, or the error. */
	(void)remote, (void)h, (void)irqs_off, (void)attach;
	lab_todo("lab 4: evtchn_alloc_unbound not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* Connect a new local port to port rport of domain dom; handler h.  The port or an error. */
long evtchn_bind_interdomain(domid_t dom, unsigned rport, evtchn_handler_t h)
{
#if SOLUTION(4)
	struct evtchn_bind_interdomain b = { .remote_dom = dom, .remote_port = rport };
	bool was_on = irqs_off();
	long r = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b);
	return attach(r < 0 ? r : b.local_port, h, was_on);
#else // SOLUTION(4)
	/* Lab 4: EVTCHNOP_bind_interdomain, with interrupts off until handler h is set (the
	 * new port comes back pending); the local port, or the error. */
	(void)dom, (void)rport, (void)h;
	lab_todo("lab 4: evtchn_bind_interdomain not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* A new port for virtual IRQ virq of vCPU 0; handler h.  The port or an error. */
long evtchn_bind_virq(unsigned virq, evtchn_handler_t h)
{
#if SOLUTION(4)
	struct evtchn_bind_virq b = { .virq = virq, .vcpu = 0 };
	bool was_on = irqs_off();
	long r = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &b);
	return attach(r < 0 ? r : b.port, h, was_on);
#else // SOLUTION(4)
	/* Lab 4: EVTCHNOP_bind_virq on vCPU 0, like evtchn_bind_interdomain(). */
	(void)virq, (void)h;
	lab_todo("lab 4: evtchn_bind_virq not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* Close port: no handler, masked again, and free for the next binding.  0 or an error. */
long evtchn_unbind(unsigned port)
{
#if SOLUTION(4)
	struct evtchn_close c = { .port = port };
	long r = HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
	if (r == 0) {
		evtchn_set_handler(port, NULL);
		evtchn_unmask(port);	/* a fresh port starts unmasked, as at boot */
	}
	return r;
#else // SOLUTION(4)
	/* Lab 4: EVTCHNOP_close; on success drop the handler and leave the port unmasked. */
	(void)port;
	lab_todo("lab 4: evtchn_unbind not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* Signal the other end of port.  0 or an error. */
long evtchn_notify(unsigned port)
{
#if SOLUTION(4)
	struct evtchn_send s = { .port = port };
	return HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
#else // SOLUTION(4)
	(void)port;
	lab_todo("lab 4: evtchn_notify not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* Mask port: its events stay pending, with no upcall, until evtchn_unmask(). */
void evtchn_mask(unsigned port)
{
#if SOLUTION(4)
	if (port < EVTCHN_MAX_PORTS)
		__atomic_fetch_or(&shared_info->evtchn_mask[port / 64], 1ULL << (port % 64), __ATOMIC_SEQ_CST);
#else // SOLUTION(4)
	(void)port;
	lab_todo("lab 4: evtchn_mask not implemented");
#endif // SOLUTION(4)
}

/* Unmask port; an event that arrived while it was masked is delivered now.  0 or error. */
long evtchn_unmask(unsigned port)
{
#if SOLUTION(4)
	if (port >= EVTCHN_MAX_PORTS)
		return -XEN_EINVAL;
	__atomic_fetch_and(&shared_info->evtchn_mask[port / 64], ~(1ULL << (port % 64)), __ATOMIC_SEQ_CST);
	if (!(READ_ONCE(shared_info->evtchn_pending[port / 64]) & (1ULL << (port % 64))))
		return 0;
	/* Pending while masked: no selector bit, no upcall.  The hypervisor raises them. */
	struct evtchn_unmask u = { .port = port };
	return HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &u);
#else // SOLUTION(4)
	/* Lab 4: clear the mask bit; if the port is pending, EVTCHNOP_unmask so that the
	 * hypervisor raises the upcall it held back. */
	(void)port;
	lab_todo("lab 4: evtchn_unmask not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* Wait (blocked, not spinning) until port is pending, then clear it and return 0; or give
 * up after timeout_ns (0: never) with -XEN_ETIMEDOUT.  For a masked port, or one with no
 * handler: an unmasked port with a handler is consumed by the upcall first. */
long wait_for_event(unsigned port, u64 timeout_ns)
{
#if SOLUTION(4)
	if (port >= EVTCHN_MAX_PORTS)
		return -XEN_EINVAL;
	u64 deadline = timeout_ns ? get_system_time() + timeout_ns : 0;
	evtchn_port_t p = port;
	struct sched_poll poll = { .ports = &p, .nr_ports = 1, .timeout = deadline };
	u64 bit = 1ULL << (port % 64);
	for (;;) {
		if (__atomic_fetch_and(&shared_info->evtchn_pending[port / 64], ~bit, __ATOMIC_SEQ_CST) & bit)
			return 0;
		if (deadline && get_system_time() >= deadline)
			return -XEN_ETIMEDOUT;
		long r = HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
		if (r < 0)
			return r;
	}
#else // SOLUTION(4)
	/* Lab 4: loop: take (test and clear) the pending bit and return 0; past the deadline
	 * return -XEN_ETIMEDOUT; else SCHEDOP_poll on this one port until the deadline. */
	(void)port, (void)timeout_ns;
	lab_todo("lab 4: wait_for_event not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}
