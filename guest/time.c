/*
 * Time and events in the guest (lab 3).  The hypervisor publishes a time snapshot in our
 * shared-info page; reading the clock is a TSC read and some arithmetic -- no VM exit.
 */
#include "guest/kernel.h"

struct shared_info *shared_info;
static evtchn_handler_t handlers[64 * 64];

long time_init(void)
{
	u64 mfn = start_info->shared_info >> PAGE_SHIFT;
	long r = map_page(current_l4(), SHARED_INFO_VA, mfn, PTE_P | PTE_W | PTE_NX);
	if (r < 0)
		return r;
	shared_info = (struct shared_info *)SHARED_INFO_VA;
	struct xen_hvm_param p = { .domid = DOMID_SELF, .index = HVM_PARAM_CALLBACK_IRQ,
				   .value = HVM_PARAM_CALLBACK_TYPE_VECTOR << 56 | UPCALL_VECTOR };
	if ((r = HYPERVISOR_hvm_op(HVMOP_set_param, &p)) < 0)
		return r;
	sti();	/* from now on events arrive as interrupts */
	return 0;
}

/* ns since boot: the snapshot plus the scaled TSC ticks since it was taken, read under
 * the version protocol so that a snapshot being rewritten is never used. */
u64 get_system_time(void)
{
#if SOLUTION(3)
	volatile struct vcpu_time_info *t = &shared_info->vcpu_info[0].time;
	u32 version;
	u64 ts, sys, tsc;
	u32 mul;
	s8 shift;
	do {
		version = t->version;
		barrier();	/* read the version before the fields... */
		ts = t->tsc_timestamp;
		sys = t->system_time;
		mul = t->tsc_to_system_mul;
		shift = t->tsc_shift;
		tsc = rdtsc();
		barrier();	/* ...and the fields before the version again */
	} while ((version & 1) || version != t->version);
	u64 delta = tsc - ts;
	delta = shift < 0 ? delta >> -shift : delta << shift;
	return sys + (u64)(((__uint128_t)delta * mul) >> 32);
#else // SOLUTION(3)
	/* Lab 3: read shared_info->vcpu_info[0].time under the version protocol (retry while
	 * the version is odd or changed) and add the scaled TSC delta. */
	panic("lab 3: get_system_time not implemented");
#endif // SOLUTION(3)
}

void get_wallclock(u64 *sec, u32 *nsec)
{
#if SOLUTION(3)
	volatile struct shared_info *s = shared_info;
	u32 version;
	u64 wc_sec;
	u32 wc_nsec;
	do {
		version = s->wc_version;
		barrier();
		wc_sec = ((u64)s->wc_sec_hi << 32) | s->wc_sec;
		wc_nsec = s->wc_nsec;
		barrier();
	} while ((version & 1) || version != s->wc_version);
	u64 ns = wc_nsec + get_system_time();
	*sec = wc_sec + ns / 1000000000;
	*nsec = (u32)(ns % 1000000000);
#else // SOLUTION(3)
	/* Lab 3: the wall clock at boot (wc_sec, wc_nsec, same version protocol with
	 * wc_version) plus the system time. */
	(void)sec, (void)nsec;
	panic("lab 3: get_wallclock not implemented");
#endif // SOLUTION(3)
}

void sleep_ns(u64 ns)
{
#if SOLUTION(3)
	u64 deadline = get_system_time() + ns;
	HYPERVISOR_set_timer_op(deadline);
	/* Check and block with interrupts off: a timer that fires between the check and
	 * the block leaves upcall_pending set, and SCHEDOP_block then returns at once. */
	cli();
	while (get_system_time() < deadline) {
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
		/* Take the upcall (if it was ours, the loop ends).  Not "sti; cli": STI enables
		 * interrupts only after the next instruction, so that pair never lets one in. */
		irq_window();
	}
	sti();
#else // SOLUTION(3)
	/* Lab 3: arm the one-shot timer and SCHEDOP_block until the deadline has passed
	 * (mind the race between checking the time and blocking). */
	(void)ns;
	panic("lab 3: sleep_ns not implemented");
#endif // SOLUTION(3)
}

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
