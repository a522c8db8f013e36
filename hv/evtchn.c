/*
 * Event channels (lab 4): Xen's 2-level event-channel ABI (public/event_channel.h).
 *
 * Each domain has a table of EVTCHN_MAX_PORTS ports (struct evtchn in hv/hv.h; port 0 is
 * never used).  A port is free (EVTCHNSTAT_closed), unbound (waiting for one named domain to
 * bind it), interdomain (connected to a port of a peer, possibly the domain itself), or
 * bound to a virtual IRQ.  Raising an event is lab 3's evtchn_set_pending(): a bit in the
 * shared page plus at most one upcall.  Everything here runs on behalf of a guest, so every
 * argument is checked and every loop is bounded by a constant (the port table, the poll
 * list): nothing here needs a continuation.
 *
 * The peer of an interdomain channel is named by domain id and port, never by pointer, and
 * is looked up with domain_by_id() at each use: a peer that died is simply not found, so no
 * event is ever written into a dead domain's freed shared page.
 */
#include "hv/hv.h"

/* Port `port` of d if it is in range and not port 0, else NULL. */
static struct evtchn *port_of(struct domain *d, u64 port)
{
	return port > 0 && port < EVTCHN_MAX_PORTS ? &d->evtchn[port] : NULL;
}

/* The lowest free port of d, or -XEN_ENOSPC. */
static long get_free_port(struct domain *d)
{
	for (unsigned p = 1; p < EVTCHN_MAX_PORTS; p++)
		if (d->evtchn[p].state == EVTCHNSTAT_closed)
			return p;
	return -XEN_ENOSPC;
}

/* Given (lab 6): the builder's unbound port in domU d for the store in domain `remote`
 * (dom0), as if d had called alloc_unbound -- which is lab 4's student code, so the builder
 * does not depend on it.  The port, or -XEN_ENOSPC. */
long evtchn_alloc_store_port(struct domain *d, domid_t remote)
{
	long port = get_free_port(d);
	if (port > 0)
		d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_unbound, .remote_dom = remote };
	return port;
}

/* The domain a domid argument names for caller v: DOMID_SELF or its own id is v's domain;
 * another one only for dom0 (else *err = -XEN_EPERM), and only if running (-XEN_ESRCH). */
static struct domain *domain_arg(struct vcpu *v, domid_t dom, long *err)
{
	struct domain *d;
	if (dom == DOMID_SELF || dom == v->dom->id)
		return v->dom;
	if (!v->dom->privileged) {
		*err = -XEN_EPERM;
		return NULL;
	}
	if (!(d = domain_by_id(dom)))
		*err = -XEN_ESRCH;
	return d;
}

/* Raise an event on port of d: lab 3's 2-level path, and wake d's vCPU if it polls that
 * port -- even a masked one, which raises no upcall (that is what polling is for). */
void evtchn_raise(struct domain *d, unsigned port)
{
	struct vcpu *v = &d->vcpu;
	evtchn_set_pending(v, port);
#if SOLUTION(4)
	if (d->polling && port < EVTCHN_MAX_PORTS && test_bit(port, (unsigned long *)d->poll_mask))
		vcpu_wake(v);
#else // SOLUTION(4)
	/* Lab 4: if d polls (d->polling) and port is in d->poll_mask, wake its vCPU. */
	if (d->polling)
		lab_stub_warn(v, 4, "evtchn_raise");
#endif // SOLUTION(4)
}

/* EVTCHNOP_alloc_unbound: see public/event_channel.h. */
static long evtchn_alloc_unbound(struct vcpu *v, struct evtchn_alloc_unbound *a)
{
#if SOLUTION(4)
	long err = 0, port;
	struct domain *d = domain_arg(v, a->dom, &err);
	if (!d)
		return err;
	domid_t remote = a->remote_dom == DOMID_SELF ? v->dom->id : a->remote_dom;
	if (!domain_by_id(remote))
		return -XEN_ESRCH;
	if ((port = get_free_port(d)) < 0)
		return port;
	d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_unbound, .remote_dom = remote };
	a->port = (evtchn_port_t)port;
	return 0;
#else // SOLUTION(4)
	/* Lab 4: resolve a->dom with domain_arg() (only dom0 may name another domain), check
	 * that remote_dom runs, take get_free_port() and make it unbound for remote_dom. */
	(void)a, (void)domain_arg, (void)get_free_port;
	lab_stub_warn(v, 4, "evtchn_alloc_unbound");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* EVTCHNOP_bind_interdomain: see public/event_channel.h. */
static long evtchn_bind_interdomain(struct vcpu *v, struct evtchn_bind_interdomain *b)
{
#if SOLUTION(4)
	struct domain *ld = v->dom;
	struct domain *rd = b->remote_dom == DOMID_SELF ? ld : domain_by_id(b->remote_dom);
	if (!rd)
		return -XEN_ESRCH;
	struct evtchn *rc = port_of(rd, b->remote_port);
	if (!rc || rc->state != EVTCHNSTAT_unbound || rc->remote_dom != ld->id)
		return -XEN_EINVAL;
	long lport = get_free_port(ld);
	if (lport < 0)
		return lport;
	ld->evtchn[lport] = (struct evtchn){ .state = EVTCHNSTAT_interdomain,
					     .remote_dom = rd->id, .remote_port = (u16)b->remote_port };
	*rc = (struct evtchn){ .state = EVTCHNSTAT_interdomain, .remote_dom = ld->id,
			       .remote_port = (u16)lport };
	b->local_port = (evtchn_port_t)lport;
	/* The peer may have signalled before we were here to see it: make sure we look. */
	evtchn_raise(ld, (unsigned)lport);
	return 0;
#else // SOLUTION(4)
	/* Lab 4: find remote_dom (DOMID_SELF: ourselves) and its port, which must be unbound
	 * and meant for us; connect both ends; mark the new local port pending. */
	(void)b, (void)port_of;
	lab_stub_warn(v, 4, "evtchn_bind_interdomain");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* EVTCHNOP_bind_virq: see public/event_channel.h. */
static long evtchn_bind_virq(struct vcpu *v, struct evtchn_bind_virq *b)
{
#if SOLUTION(4)
	struct domain *d = v->dom;
	if (b->virq != VIRQ_TIMER)	/* the only one pvlab raises (and it is < NR_VIRQS) */
		return -XEN_EINVAL;
	if (b->vcpu != 0)
		return -XEN_ENOENT;
	if (d->virq_to_port[b->virq])
		return -XEN_EEXIST;
	long port = get_free_port(d);
	if (port < 0)
		return port;
	d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_virq, .virq = (u8)b->virq };
	d->virq_to_port[b->virq] = (u16)port;
	b->port = (evtchn_port_t)port;
	return 0;
#else // SOLUTION(4)
	/* Lab 4: check virq (only VIRQ_TIMER) and vcpu (only 0), refuse a second binding,
	 * then a free port in state virq, recorded in d->virq_to_port. */
	(void)b;
	lab_stub_warn(v, 4, "evtchn_bind_virq");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* Free port of d (in use, checked by the caller): an interdomain peer goes back to
 * unbound, waiting for d again; a stale pending bit must not greet the next user. */
static void evtchn_free(struct domain *d, unsigned port)
{
#if SOLUTION(4)
	struct evtchn *c = &d->evtchn[port];
	if (c->state == EVTCHNSTAT_virq && c->virq < NR_VIRQS && d->virq_to_port[c->virq] == port)
		d->virq_to_port[c->virq] = 0;
	if (c->state == EVTCHNSTAT_interdomain) {
		struct domain *rd = c->remote_dom < MAX_DOMAINS ? &domains[c->remote_dom] : NULL;
		struct evtchn *rc = rd ? port_of(rd, c->remote_port) : NULL;
		/* Only if the peer's end still points back here (a dying peer may have closed). */
		if (rc && rc->state == EVTCHNSTAT_interdomain && rc->remote_dom == d->id &&
		    rc->remote_port == port)
			*rc = (struct evtchn){ .state = EVTCHNSTAT_unbound, .remote_dom = d->id };
	}
	*c = (struct evtchn){ .state = EVTCHNSTAT_closed };
	clear_bit(port, (unsigned long *)shared_info_of(d)->evtchn_pending);
#else // SOLUTION(4)
	/* Lab 4: undo a virq binding; put an interdomain peer's end back to unbound (for
	 * d); mark the port free and clear its pending bit. */
	(void)d, (void)port;
	lab_stub_warn(NULL, 4, "evtchn_free");
#endif // SOLUTION(4)
}

/* EVTCHNOP_close: see public/event_channel.h. */
static long evtchn_close(struct vcpu *v, struct evtchn_close *c)
{
	struct evtchn *e = port_of(v->dom, c->port);
	if (!e || e->state == EVTCHNSTAT_closed)
		return -XEN_EINVAL;
	evtchn_free(v->dom, c->port);
	return 0;
}

/* EVTCHNOP_send: see public/event_channel.h. */
static long evtchn_send(struct vcpu *v, struct evtchn_send *s)
{
#if SOLUTION(4)
	struct evtchn *c = port_of(v->dom, s->port);
	if (!c || c->state == EVTCHNSTAT_closed)
		return -XEN_EINVAL;
	if (c->state == EVTCHNSTAT_unbound)
		return 0;	/* nobody listens yet: the bind will mark its end pending */
	if (c->state != EVTCHNSTAT_interdomain)
		return -XEN_EINVAL;
	struct domain *rd = domain_by_id(c->remote_dom);
	if (rd)		/* a peer that is dying gets nothing */
		evtchn_raise(rd, c->remote_port);
	return 0;
#else // SOLUTION(4)
	/* Lab 4: on an interdomain port, raise the peer's port (if the peer still runs:
	 * domain_by_id()); unbound: nothing; anything else: -XEN_EINVAL. */
	(void)s;
	lab_stub_warn(v, 4, "evtchn_send");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* EVTCHNOP_status: see public/event_channel.h. */
static long evtchn_status(struct vcpu *v, struct evtchn_status *st)
{
#if SOLUTION(4)
	long err = 0;
	struct domain *d = domain_arg(v, st->dom, &err);
	if (!d)
		return err;
	if (st->port >= EVTCHN_MAX_PORTS)
		return -XEN_EINVAL;
	struct evtchn *c = &d->evtchn[st->port];
	st->status = c->state;
	st->vcpu = 0;
	memset(&st->u, 0, sizeof(st->u));
	if (c->state == EVTCHNSTAT_unbound)
		st->u.unbound.dom = c->remote_dom;
	else if (c->state == EVTCHNSTAT_interdomain)
		st->u.interdomain.dom = c->remote_dom, st->u.interdomain.port = c->remote_port;
	else if (c->state == EVTCHNSTAT_virq)
		st->u.virq = c->virq;
	return 0;
#else // SOLUTION(4)
	/* Lab 4: resolve st->dom with domain_arg(); fill status, vcpu and u from the port. */
	(void)st;
	lab_stub_warn(v, 4, "evtchn_status");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* EVTCHNOP_unmask: see public/event_channel.h. */
static long evtchn_unmask(struct vcpu *v, struct evtchn_unmask *u)
{
#if SOLUTION(4)
	struct evtchn *c = port_of(v->dom, u->port);
	if (!c || c->state == EVTCHNSTAT_closed)
		return -XEN_EINVAL;
	struct shared_info *s = shared_info_of(v->dom);
	struct vcpu_info *vi = vcpu_info_of(v);
	clear_bit(u->port, (unsigned long *)s->evtchn_mask);
	if (!test_bit(u->port, (unsigned long *)s->evtchn_pending))
		return 0;
	/* It arrived while masked: raise now what evtchn_set_pending() held back. */
	set_bit(u->port / BITS_PER_LONG, (unsigned long *)&vi->evtchn_pending_sel);
	if (!vi->evtchn_upcall_pending) {
		vi->evtchn_upcall_pending = 1;
		v->upcall_due = true;
	}
	return 0;
#else // SOLUTION(4)
	/* Lab 4: clear the mask bit; if the port is pending, set its selector bit and (if
	 * not yet set) upcall_pending with v->upcall_due, as evtchn_set_pending() would have. */
	(void)u;
	lab_stub_warn(v, 4, "evtchn_unmask");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* SCHEDOP_poll: see public/sched.h. */
long do_poll(struct vcpu *v, u64 arg)
{
	struct sched_poll p;
	evtchn_port_t ports[SCHED_POLL_MAX];
	if (copy_from_guest(v, &p, arg, sizeof(p)) < 0)
		return -XEN_EFAULT;
	if (p.nr_ports > SCHED_POLL_MAX)
		return -XEN_EINVAL;
	if (copy_from_guest(v, ports, (u64)p.ports, p.nr_ports * sizeof(ports[0])) < 0)
		return -XEN_EFAULT;
#if SOLUTION(4)
	struct domain *d = v->dom;
	struct shared_info *s = shared_info_of(d);
	for (unsigned i = 0; i < p.nr_ports; i++) {
		if (ports[i] >= EVTCHN_MAX_PORTS)
			return -XEN_EINVAL;
		if (test_bit(ports[i], (unsigned long *)s->evtchn_pending))
			return 0;	/* one is pending already: nothing to wait for */
	}
	memset(d->poll_mask, 0, sizeof(d->poll_mask));
	for (unsigned i = 0; i < p.nr_ports; i++)
		set_bit(ports[i], (unsigned long *)d->poll_mask);
	d->polling = true;
	d->poll_deadline = p.timeout;
	vcpu_block(v);
	return 0;
#else // SOLUTION(4)
	/* Lab 4: -XEN_EINVAL for a port >= EVTCHN_MAX_PORTS; return at once if one of the
	 * ports is pending; else record them in d->poll_mask, set d->polling and
	 * d->poll_deadline (p.timeout) and block.  evtchn_raise() and the timeout wake it. */
	lab_stub_warn(v, 4, "do_poll");
	return -XEN_ENOSYS;
#endif // SOLUTION(4)
}

/* event_channel_op(cmd, arg): copy the argument in, run the command, copy OUT fields back. */
long do_event_channel_op(struct vcpu *v, u64 cmd, u64 arg, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
	union {
		struct evtchn_alloc_unbound alloc;
		struct evtchn_bind_interdomain bind;
		struct evtchn_bind_virq virq;
		struct evtchn_close close;
		struct evtchn_send send;
		struct evtchn_status status;
		struct evtchn_unmask unmask;
	} u;
	size_t size;
	long r;
	switch (cmd) {
	case EVTCHNOP_alloc_unbound: size = sizeof(u.alloc); break;
	case EVTCHNOP_bind_interdomain: size = sizeof(u.bind); break;
	case EVTCHNOP_bind_virq: size = sizeof(u.virq); break;
	case EVTCHNOP_close: size = sizeof(u.close); break;
	case EVTCHNOP_send: size = sizeof(u.send); break;
	case EVTCHNOP_status: size = sizeof(u.status); break;
	case EVTCHNOP_unmask: size = sizeof(u.unmask); break;
	default: return -XEN_ENOSYS;
	}
	if (copy_from_guest(v, &u, arg, size) < 0)
		return -XEN_EFAULT;
	switch (cmd) {
	case EVTCHNOP_alloc_unbound: r = evtchn_alloc_unbound(v, &u.alloc); break;
	case EVTCHNOP_bind_interdomain: r = evtchn_bind_interdomain(v, &u.bind); break;
	case EVTCHNOP_bind_virq: r = evtchn_bind_virq(v, &u.virq); break;
	case EVTCHNOP_close: r = evtchn_close(v, &u.close); break;
	case EVTCHNOP_send: r = evtchn_send(v, &u.send); break;
	case EVTCHNOP_status: r = evtchn_status(v, &u.status); break;
	default: r = evtchn_unmask(v, &u.unmask); break;
	}
	if (r == 0 && copy_to_guest(v, arg, &u, size) < 0)
		return -XEN_EFAULT;
	return r;
}

/* A vCPU that runs again has stopped polling, whatever woke it. */
static void evtchn_switch_in(struct vcpu *v)
{
	v->dom->polling = false;
	v->dom->poll_deadline = 0;
}

/* Wake each poller whose timeout has come. */
static void evtchn_timers(u64 now)
{
	for (int i = 0; i < MAX_DOMAINS; i++) {
		struct domain *d = &domains[i];
		if (d->state == DOM_RUNNING && d->polling && d->poll_deadline && now >= d->poll_deadline)
			vcpu_wake(&d->vcpu);
	}
}

static bool poll_timeout_armed(struct vcpu *v)
{
	return v->dom->polling && v->dom->poll_deadline;
}

/* A dead domain closes its channels, so each peer finds its end unbound again and no event
 * is sent to it any more.  Its other ports concern nobody else; the builder resets the
 * table.  (EVTCHN_MAX_PORTS steps: bounded by a constant, so no continuation.) */
static void evtchn_domain_destroy(struct domain *d)
{
	for (unsigned p = 1; p < EVTCHN_MAX_PORTS; p++)
		if (d->evtchn[p].state == EVTCHNSTAT_interdomain)
			evtchn_free(d, p);
}

DOM_HOOKS(evtchn, .domain_destroy = evtchn_domain_destroy, .switch_in = evtchn_switch_in,
	  .timers = evtchn_timers, .can_wake = poll_timeout_armed);
