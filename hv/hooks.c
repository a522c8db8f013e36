/*
 * Per-subsystem hooks (struct dom_hooks in hv/hv.h).  Each subsystem -- time, events, and
 * the labs after them -- declares its table with DOM_HOOKS(); the linker gathers the tables
 * between __dom_hooks_start and __dom_hooks_end, and the builder, domain_destroy() and the
 * scheduler call them here.  So a new subsystem is one new file, not an edit of each caller.
 */
#include "hv/hv.h"

extern const struct dom_hooks __dom_hooks_start[], __dom_hooks_end[];

#define EACH_HOOK(h) for (const struct dom_hooks *h = __dom_hooks_start; h < __dom_hooks_end; h++)
#define EACH_HOOK_REVERSE(h) \
	for (const struct dom_hooks *h = __dom_hooks_end; h-- > __dom_hooks_start;)

void hooks_domain_init(struct domain *d)
{
	EACH_HOOK(h)
		if (h->domain_init)
			h->domain_init(d);
}

/* In reverse order: a subsystem set up later may still use an earlier one's state. */
void hooks_domain_destroy(struct domain *d)
{
	EACH_HOOK_REVERSE(h)
		if (h->domain_destroy)
			h->domain_destroy(d);
}

void hooks_vcpu_init(struct vcpu *v)
{
	EACH_HOOK(h)
		if (h->vcpu_init)
			h->vcpu_init(v);
}

void hooks_switch_in(struct vcpu *v)
{
	EACH_HOOK(h)
		if (h->switch_in)
			h->switch_in(v);
}

void hooks_switch_out(struct vcpu *v)
{
	EACH_HOOK_REVERSE(h)
		if (h->switch_out)
			h->switch_out(v);
}

/* Fire every subsystem's due timers, all against one reading of the clock. */
void hooks_timers(void)
{
	u64 now = system_time();
	EACH_HOOK(h)
		if (h->timers)
			h->timers(now);
}

/* Could any subsystem's timer still wake the blocked vCPU v?  (Else, with nobody
 * runnable, the run is stuck and the scheduler ends it.) */
bool hooks_can_wake(struct vcpu *v)
{
	EACH_HOOK(h)
		if (h->can_wake && h->can_wake(v))
			return true;
	return false;
}
