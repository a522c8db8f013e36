/*
 * Event delivery, first slice (lab 3; lab 4 adds channels between domains).  An event is a
 * bit in shared memory plus, at most, one virtual interrupt: the guest finds out *which*
 * events happened by scanning the bitmaps, so any number of events cost one upcall.
 * The port table itself (struct evtchn in hv/hv.h) starts here as given code: each domain
 * is born with VIRQ_TIMER bound on port PVLAB_TIMER_PORT.
 */
#include "hv/hv.h"

/* Mark `port` pending for v: the pending bit; unless masked, the selector bit and
 * upcall_pending; and wake v if it sleeps in SCHEDOP_block. */
void evtchn_set_pending(struct vcpu *v, unsigned port)
{
#if SOLUTION(3)
	struct shared_info *s = shared_info_of(v->dom);
	struct vcpu_info *vi = &s->vcpu_info[0];
	if (port >= sizeof(s->evtchn_pending) * 8)
		return;
	if (test_bit(port, (unsigned long *)s->evtchn_pending))
		return;		/* already pending: the guest has not seen it yet */
	set_bit(port, (unsigned long *)s->evtchn_pending);
	if (test_bit(port, (unsigned long *)s->evtchn_mask))
		return;		/* masked: it waits, silently, for the unmask */
	set_bit(port / BITS_PER_LONG, (unsigned long *)&vi->evtchn_pending_sel);
	if (!vi->evtchn_upcall_pending) {
		vi->evtchn_upcall_pending = 1;
		v->upcall_due = true;
	}
	vcpu_wake(v);
#else // SOLUTION(3)
	/* Lab 3: set the pending bit; unless the port is masked, the selector bit and
	 * upcall_pending (mark v->upcall_due when it goes 0 -> 1); then vcpu_wake(v). */
	(void)port, (void)shared_info_of;
	lab_stub_warn(v, 3, "evtchn_set_pending");
#endif // SOLUTION(3)
}

/* Called before every entry of v: deliver a due upcall as the guest's callback vector if
 * the guest can take an interrupt now, or ask to be told when it can. */
void event_deliver(struct vcpu *v)
{
#if SOLUTION(3)
	struct vcpu_info *vi = &shared_info_of(v->dom)->vcpu_info[0];
	if (!v->upcall_due || !v->upcall_vector || vi->evtchn_upcall_mask)
		return;
	if (!vi->evtchn_upcall_pending) {
		v->upcall_due = false;	/* the guest already looked (say, by polling) */
		return;
	}
	if (vcpu_ops->intr_allowed(v)) {
		vcpu_ops->inject(v, EVENT_EXTINT, v->upcall_vector, false, 0);
		v->upcall_due = false;
	} else {
		vcpu_ops->set_intercept(v, INTERCEPT_INTR_WINDOW, true);
	}
#else // SOLUTION(3)
	/* Lab 3: if an upcall is due and not masked, inject v->upcall_vector when
	 * vcpu_ops->intr_allowed(v), else ask for an interrupt-window exit. */
	if (v->upcall_due)	/* nothing to say before an event was ever raised */
		lab_stub_warn(v, 3, "event_deliver");
#endif // SOLUTION(3)
}

/* Raise virtual IRQ virq on v: an event on the port it is bound to, if any. */
void send_guest_virq(struct vcpu *v, unsigned virq)
{
	unsigned port = virq < NR_VIRQS ? v->dom->virq_to_port[virq] : 0;
	if (port)
		evtchn_raise(v->dom, port);
}

/* Is there an unmasked event waiting for v's guest? */
bool event_pending(struct vcpu *v)
{
	return vcpu_info_of(v)->evtchn_upcall_pending;
}

/* SCHEDOP_block: enable events and sleep unless one is already pending -- checked here, by
 * the hypervisor, so that an event arriving just before the call is never lost. */
void event_block(struct vcpu *v)
{
	vcpu_info_of(v)->evtchn_upcall_mask = 0;
	if (!event_pending(v))
		vcpu_block(v);
}

/* hvm_op(HVMOP_set_param, {DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, vector}): the callback. */
long do_hvm_op(struct vcpu *v, u64 cmd, u64 arg, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
	struct xen_hvm_param p;
	if (cmd != HVMOP_set_param)
		return -XEN_ENOSYS;
	if (copy_from_guest(v, &p, arg, sizeof(p)) < 0)
		return -XEN_EFAULT;
	if (p.domid != DOMID_SELF)
		return -XEN_EPERM;
	if (p.index != HVM_PARAM_CALLBACK_IRQ)
		return -XEN_EINVAL;
	if (p.value == 0) {
		v->upcall_vector = 0;
		return 0;
	}
	u64 vector = p.value & 0xff;
	if (p.value >> 56 != HVM_PARAM_CALLBACK_TYPE_VECTOR || (p.value & ~(0xffULL << 56) & ~0xffULL) ||
	    vector < 32)
		return -XEN_EINVAL;
	v->upcall_vector = (u8)vector;
	return 0;
}

/* A new domain's port table: every port free but PVLAB_TIMER_PORT, bound to VIRQ_TIMER
 * (public/event_channel.h), so a guest gets timer events before it knows event channels. */
static void event_domain_init(struct domain *d)
{
	memset(d->evtchn, 0, sizeof(d->evtchn));
	memset(d->virq_to_port, 0, sizeof(d->virq_to_port));
	d->evtchn[PVLAB_TIMER_PORT] = (struct evtchn){ .state = EVTCHNSTAT_virq, .virq = VIRQ_TIMER };
	d->virq_to_port[VIRQ_TIMER] = PVLAB_TIMER_PORT;
}

DOM_HOOKS(event, .domain_init = event_domain_init);
