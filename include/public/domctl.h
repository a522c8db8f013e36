/*
 * domctl(struct xen_domctl *op): dom0 controls and inspects other domains (Xen's
 * public/domctl.h; pvlab has one command).  Included by public/xen.h.            lab 6
 *
 * Only a privileged domain (dom0) may call it.  Returns 0, or
 *     -XEN_EPERM   the caller is not privileged
 *     -XEN_EACCES  interface_version is not XEN_DOMCTL_INTERFACE_VERSION (as Xen)
 *     -XEN_EFAULT  op cannot be read or written back
 *     -XEN_ENOSYS  an unknown cmd
 * and each command's own errors below.
 */
#define XEN_DOMCTL_INTERFACE_VERSION	0x15	/* pvlab: what this header describes */

/* XEN_DOMCTL_getdomaininfo: the FIRST domain whose id is >= op.domain (so that dom0
 * enumerates: ask for 0, then for the answer's domain + 1, until -XEN_ESRCH).  A domain
 * whose teardown has ended is not listed; one that shut down or crashed is listed, dying.
 *     -XEN_ESRCH   no domain with an id >= op.domain */
#define XEN_DOMCTL_getdomaininfo	5
struct xen_domctl_getdomaininfo {
	domid_t domain;		/* OUT: the domain found */
	u16 pad0;
	u32 flags;		/* OUT: XEN_DOMINF_*, and the shutdown reason */
	u64 tot_pages;		/* OUT: frames it holds now */
	u64 max_pages;		/* OUT: frames it may hold */
	/* pvlab: in Xen the toolstack remembers these two from building the domain; here the
	 * hypervisor is the toolstack, so it tells.  0 for dom0, which has no store page (it
	 * IS the store). */
	xen_pfn_t store_mfn;	/* OUT: MACHINE frame of its store page (start_info.store_mfn) */
	u32 store_evtchn;	/* OUT: its unbound port for dom0 (start_info.store_evtchn) */
	u32 pad1;
};
#define XEN_DOMINF_dying	(1U << 0)	/* its teardown has begun (it shut down or crashed) */
#define XEN_DOMINF_shutdown	(1U << 2)	/* it shut down (a crash too): reason below */
#define XEN_DOMINF_blocked	(1U << 4)	/* its vCPU is blocked */
#define XEN_DOMINF_running	(1U << 5)	/* its vCPU is runnable or running */
#define XEN_DOMINF_shutdownshift 16		/* bits 16..23: SHUTDOWN_* if XEN_DOMINF_shutdown */
#define XEN_DOMINF_shutdownmask	0xff

struct xen_domctl {
	u32 cmd;			/* IN: XEN_DOMCTL_* */
	u32 interface_version;		/* IN: XEN_DOMCTL_INTERFACE_VERSION */
	domid_t domain;			/* IN: the domain to act on (getdomaininfo: the first id) */
	u16 pad[3];
	union {
		struct xen_domctl_getdomaininfo getdomaininfo;
		u8 pad[128];		/* room for later commands, as Xen */
	} u;
};
STATIC_ASSERT(sizeof(struct xen_domctl_getdomaininfo) == 40);
STATIC_ASSERT(sizeof(struct xen_domctl) == 144);
