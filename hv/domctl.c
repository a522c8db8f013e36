/*
 * domctl (lab 6, given): dom0's window on the other domains -- in pvlab only
 * XEN_DOMCTL_getdomaininfo, which the store (guest/xenstored.c) uses to find each domU's
 * store page and port, and to notice a domain that died.  See include/public/domctl.h.
 */
#include "hv/hv.h"

/* Fill *info for d, which is running or dying (its teardown not ended). */
static void domain_info(struct domain *d, struct xen_domctl_getdomaininfo *info)
{
	*info = (struct xen_domctl_getdomaininfo){
		.domain = d->id, .tot_pages = d->tot_pages, .max_pages = d->max_pages,
		.store_mfn = d->store_mfn, .store_evtchn = d->store_evtchn,
	};
	if (d->state == DOM_DYING) {
		/* pvlab: a domain is dying exactly when it shut down or crashed */
		info->flags = XEN_DOMINF_dying | XEN_DOMINF_shutdown |
			      ((u32)d->shutdown_reason & XEN_DOMINF_shutdownmask) << XEN_DOMINF_shutdownshift;
	} else {
		info->flags = d->vcpu.state == VCPU_BLOCKED ? XEN_DOMINF_blocked : XEN_DOMINF_running;
	}
}

/* XEN_DOMCTL_getdomaininfo: the first listed domain with an id >= first. */
static long getdomaininfo(domid_t first, struct xen_domctl_getdomaininfo *info)
{
	for (unsigned id = first; id < MAX_DOMAINS; id++) {
		struct domain *d = &domains[id];
		if (d->state == DOM_RUNNING || d->state == DOM_DYING) {
			domain_info(d, info);
			return 0;
		}
	}
	return -XEN_ESRCH;
}

/* domctl(op): see include/public/domctl.h. */
long do_domctl(struct vcpu *v, u64 arg, u64 a2 UNUSED, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
	struct xen_domctl op;
	long r;
	if (!v->dom->privileged)
		return -XEN_EPERM;
	if (copy_from_guest(v, &op, arg, sizeof(op)) < 0)
		return -XEN_EFAULT;
	if (op.interface_version != XEN_DOMCTL_INTERFACE_VERSION)
		return -XEN_EACCES;
	switch (op.cmd) {
	case XEN_DOMCTL_getdomaininfo:
		r = getdomaininfo(op.domain, &op.u.getdomaininfo);
		break;
	default:
		return -XEN_ENOSYS;
	}
	if (r == 0 && copy_to_guest(v, arg, &op, sizeof(op)) < 0)
		return -XEN_EFAULT;
	return r;
}
