/*
 * Event channels: the paravirtual interrupt (Xen's public/event_channel.h, 2-level ABI).
 * Included by public/xen.h; do not include it on its own.                        lab 4
 *
 * A port is a small number naming one end of a channel inside a domain.  Raising an event
 * on a port sets bit `port` of shared_info.evtchn_pending; unless that port is masked
 * (shared_info.evtchn_mask) it also sets bit port/64 of vcpu_info.evtchn_pending_sel and
 * vcpu_info.evtchn_upcall_pending, and -- unless evtchn_upcall_mask is set -- the hypervisor
 * injects the guest's callback vector as soon as the guest's RFLAGS.IF allows.  The guest's
 * handler clears upcall_pending, exchanges pending_sel with 0, and handles every pending,
 * unmasked port of each selected word: any number of events cost one upcall.
 *
 * event_channel_op(int cmd, void *arg): cmd is an EVTCHNOP_*, arg points at its structure.
 * Every command returns 0 or a negative error; besides its own, each may return
 *     -XEN_EFAULT  arg cannot be read (or, for OUT fields, written)
 *     -XEN_ENOSYS  an unknown cmd (or one pvlab does not provide: bind_pirq, bind_ipi,
 *                  bind_vcpu, reset, init_control, expand_array, set_priority)
 * A port argument that is 0, at or above EVTCHN_MAX_PORTS (so also (u32)-1), or not in use
 * gives -XEN_EINVAL.
 */
typedef u32 evtchn_port_t;

#define EVTCHN_MAX_PORTS	1024	/* pvlab: ports per domain, port 0 never used */

/* EVTCHNOP_alloc_unbound: a new port of `dom` in state unbound, waiting for `remote_dom`
 * to bind it with EVTCHNOP_bind_interdomain.
 *     -XEN_EPERM   dom is not DOMID_SELF (nor the caller's id) and the caller is not dom0
 *     -XEN_ESRCH   dom or remote_dom is not a running domain
 *     -XEN_ENOSPC  every port of dom is in use */
#define EVTCHNOP_alloc_unbound	6
struct evtchn_alloc_unbound {
	domid_t dom;		/* IN: DOMID_SELF (dom0 may name another domain) */
	domid_t remote_dom;	/* IN: who may bind it (DOMID_SELF: the caller) */
	evtchn_port_t port;	/* OUT */
};

/* EVTCHNOP_bind_interdomain: connect a new local port to port `remote_port` of
 * `remote_dom`, which must be unbound and allocated for the caller.  The local port starts
 * out pending, so that a signal the peer sent before the bind is never lost.
 *     -XEN_ESRCH   remote_dom is not a running domain
 *     -XEN_EINVAL  remote_port is 0, out of range, not unbound, or unbound for another
 *                  domain (as Xen: a domain cannot tell others' ports apart)
 *     -XEN_ENOSPC  every local port is in use */
#define EVTCHNOP_bind_interdomain 0
struct evtchn_bind_interdomain {
	domid_t remote_dom;	/* IN (DOMID_SELF: a loopback channel) */
	u16 pad;
	evtchn_port_t remote_port;	/* IN */
	evtchn_port_t local_port;	/* OUT */
};

/* EVTCHNOP_bind_virq: a new port for virtual IRQ `virq` of vCPU `vcpu`.
 *     -XEN_EINVAL  virq >= NR_VIRQS, or a virq pvlab does not raise (only VIRQ_TIMER)
 *     -XEN_ENOENT  vcpu is not one of the domain's vCPUs (pvlab: only 0)
 *     -XEN_EEXIST  that virq is already bound on that vCPU
 *     -XEN_ENOSPC  every port is in use */
#define EVTCHNOP_bind_virq	1
struct evtchn_bind_virq {
	u32 virq;		/* IN: VIRQ_* */
	u32 vcpu;		/* IN */
	evtchn_port_t port;	/* OUT */
};

#define EVTCHNOP_bind_pirq	2	/* not provided */

/* EVTCHNOP_close: free a port.  The remote end of an interdomain channel goes back to
 * unbound (allocated for this domain), so the peer can tell and may be bound again. */
#define EVTCHNOP_close		3
struct evtchn_close {
	evtchn_port_t port;	/* IN */
};

/* EVTCHNOP_send: raise an event on the other end of an interdomain channel (on the port
 * itself for a loopback one).  Sending on an unbound port does nothing and returns 0 (as
 * Xen); on a virq port it is -XEN_EINVAL. */
#define EVTCHNOP_send		4
struct evtchn_send {
	evtchn_port_t port;	/* IN */
};

/* EVTCHNOP_status: what a port is.  dom is DOMID_SELF, or any domain for dom0.
 *     -XEN_EPERM   dom names another domain and the caller is not dom0
 *     -XEN_ESRCH   dom is not a running domain
 *     -XEN_EINVAL  port >= EVTCHN_MAX_PORTS (port 0 and free ports say EVTCHNSTAT_closed) */
#define EVTCHNOP_status		5
struct evtchn_status {
	domid_t dom;		/* IN */
	u16 pad;
	evtchn_port_t port;	/* IN */
#define EVTCHNSTAT_closed	0	/* free */
#define EVTCHNSTAT_unbound	1	/* waiting for u.unbound.dom */
#define EVTCHNSTAT_interdomain	2	/* connected to u.interdomain */
#define EVTCHNSTAT_pirq		3
#define EVTCHNSTAT_virq		4	/* bound to u.virq */
#define EVTCHNSTAT_ipi		5
	u32 status;		/* OUT: EVTCHNSTAT_* */
	u32 vcpu;		/* OUT: the vCPU it notifies */
	union {
		struct {
			domid_t dom;
		} unbound;		/* OUT */
		struct {
			domid_t dom;
			u16 pad;
			evtchn_port_t port;
		} interdomain;		/* OUT */
		u32 pirq;
		u32 virq;		/* OUT */
	} u;
};
STATIC_ASSERT(sizeof(struct evtchn_status) == 24);

#define EVTCHNOP_bind_ipi	7	/* not provided (one vCPU per domain) */
#define EVTCHNOP_bind_vcpu	8	/* not provided */

/* EVTCHNOP_unmask: clear the port's mask bit; if the port is pending, raise the selector
 * bit and the upcall now (an event that arrived while masked is delivered, not lost). */
#define EVTCHNOP_unmask		9
struct evtchn_unmask {
	evtchn_port_t port;	/* IN */
};

/* ---------------------------------------------------------------------------------------
 * Virtual IRQs: events the hypervisor itself raises, one port per (virq, vCPU) binding.
 *   pvlab: the domain builder binds VIRQ_TIMER on port PVLAB_TIMER_PORT of every domain,
 *   as if the guest had called EVTCHNOP_bind_virq first, so that labs before lab 4 need no
 *   event-channel hypercall.  Close that port to bind VIRQ_TIMER yourself.
 */
#define PVLAB_TIMER_PORT	1
#define VIRQ_TIMER		0	/* the one-shot timer of set_timer_op fired */
#define VIRQ_DEBUG		1
#define VIRQ_CONSOLE		2
#define NR_VIRQS		24
