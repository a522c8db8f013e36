/*
 * The scheduler: round robin over runnable vCPUs on one physical CPU, preempted by the host
 * LAPIC timer every millisecond and switched every sched_slice_ms.  A vCPU that executes HLT
 * or SCHEDOP_block sleeps until something can wake it; when every domain is asleep and
 * nothing can wake any of them, the run is over and we say so instead of hanging.  A dead
 * domain is torn down a slice's worth at a time while others run (reap()).
 */
#include "hv/hv.h"

struct vcpu *current;
unsigned sched_slice_ms = 5;
static volatile bool need_resched;
static volatile unsigned slice_used;
static volatile u64 ticks;
static u64 slice_start_tsc;	/* when the running vCPU's slice began */

const char *shutdown_reason_name(int reason);

/* Host timer interrupt (1 kHz): account the running slice. */
void hv_timer_tick(void)
{
	ticks++;
	if (++slice_used >= sched_slice_ms)
		need_resched = true;
}

void vcpu_block(struct vcpu *v)
{
	v->state = VCPU_BLOCKED;
}

void vcpu_wake(struct vcpu *v)
{
	if (v->state == VCPU_BLOCKED)
		v->state = VCPU_RUNNABLE;
}

void sched_yield(void)
{
	need_resched = true;
}

/* Has the running vCPU used up its time slice?  Read from the TSC, not the tick count:
 * the hypervisor runs with interrupts off, so no tick arrives while a hypercall works. */
bool sched_slice_over(void)
{
	return rdtsc() - slice_start_tsc >= (u64)sched_slice_ms * tsc_khz;
}

long do_sched_op(struct vcpu *v, u64 cmd, u64 arg)
{
	struct sched_shutdown s;
	switch (cmd) {
	case SCHEDOP_yield:
		sched_yield();
		return 0;
	case SCHEDOP_block:
		event_block(v);
		return 0;
	case SCHEDOP_poll:
		return do_poll(v, arg);
	case SCHEDOP_shutdown:
		if (copy_from_guest(v, &s, arg, sizeof(s)) < 0)
			return -XEN_EFAULT;
		if (s.reason > SHUTDOWN_MAX)
			return -XEN_EINVAL;
		domain_shutdown(v->dom, (int)s.reason);
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}

/* Print how each domain ended and leave: success only if all powered off. */
static NORETURN void finish(const char *why)
{
	bool ok = true;
	printf("pvlab: %s\n", why);
	for (int i = 0; i < MAX_DOMAINS; i++) {
		struct domain *d = &domains[i];
		if (d->state == DOM_FREE)
			continue;
		guest_console_flush(d);
		if (d->state == DOM_RUNNING) {
			printf("pvlab: d%u: still running (%s)\n", d->id,
			       d->vcpu.state == VCPU_BLOCKED ? "blocked" : "runnable");
			ok = false;
		} else if (d->shutdown_reason == SHUTDOWN_crash && d->crash_why[0]) {
			printf("pvlab: d%u: crashed (%s)\n", d->id, d->crash_why);
			ok = false;
		} else {
			printf("pvlab: d%u: %s\n", d->id, shutdown_reason_name(d->shutdown_reason));
			ok = ok && d->shutdown_reason == SHUTDOWN_poweroff;
		}
	}
	machine_exit(ok ? EXIT_SUCCESS : EXIT_FAILURE);
}

/* Is any domain still running (and so worth not stalling)? */
static bool any_running(void)
{
	for (int i = 0; i < MAX_DOMAINS; i++)
		if (domains[i].state == DOM_RUNNING)
			return true;
	return false;
}

/* Tear down domains that ended -- a slice's worth at a time while others run, so a big
 * teardown does not stall them; end the run when none is left or dom0 crashed. */
static void reap(void)
{
	bool live = false;
	for (int i = 0; i < MAX_DOMAINS; i++) {
		struct domain *d = &domains[i];
		if (d->state == DOM_DYING) {
			if (d->privileged && d->shutdown_reason == SHUTDOWN_crash)
				finish("dom0 crashed: ending the run");
			domain_destroy(d, any_running());
		}
		live |= d->state == DOM_RUNNING || d->state == DOM_DYING;
	}
	if (!live)
		finish("all domains have shut down");
}

/* The next runnable vCPU after the one at index *last, round robin. */
static struct vcpu *pick_next(int *last)
{
	for (int k = 1; k <= MAX_DOMAINS; k++) {
		int i = (*last + k) % MAX_DOMAINS;
		struct vcpu *v = &domains[i].vcpu;
		if (domains[i].state == DOM_RUNNING && v->state == VCPU_RUNNABLE) {
			*last = i;
			return v;
		}
	}
	return NULL;
}

/* The hypervisor has the CPU back -- after a VM exit of any kind (a host interrupt, the
 * VMX-preemption timer, a hypercall...) whatever the guest's IF, or after idling: the one
 * place where timers fire and wake their vCPUs, so that no domain's timer waits until
 * another domain gives the CPU up. */
static void cpu_back(void)
{
	hooks_timers();
}

/* Nothing to run: wait for an interrupt, or stop if nothing could ever wake anyone. */
static void idle(void)
{
	for (int i = 0; i < MAX_DOMAINS; i++)
		if (domains[i].state == DOM_DYING) {
			hooks_timers();	/* a teardown to go on with (reap): no sleeping */
			return;
		}
	for (int i = 0; i < MAX_DOMAINS; i++)
		if (domains[i].state == DOM_RUNNING && hooks_can_wake(&domains[i].vcpu)) {
			sti_hlt();
			cli();
			cpu_back();
			return;
		}
	finish("every domain is blocked and nothing can wake them");
}

void sched_run(void)
{
	int last = MAX_DOMAINS - 1;
	lapic_timer_start(1000);
	for (;;) {
		reap();
		cpu_back();	/* wake whoever's timer expired during the last slice first */
		struct vcpu *v = pick_next(&last);
		if (!v) {
			idle();
			continue;
		}
		current = v;
		fpu_switch_to(v);	/* its own FPU/SSE registers, and nobody else's */
		need_resched = false;
		slice_used = 0;
		slice_start_tsc = rdtsc();
		hooks_switch_in(v);	/* e.g. a fresh time snapshot */
		u64 last_update = ticks;
		while (v->state == VCPU_RUNNABLE && v->dom->state == DOM_RUNNING && !need_resched) {
			struct vm_exit e;
			if (ticks - last_update >= 10) {	/* and every 10 ms while it runs */
				time_update(v->dom);
				last_update = ticks;
			}
			event_deliver(v);
			vcpu_ops->run(v, &e);
			cpu_back();
			handle_exit(v, &e);
		}
		hooks_switch_out(v);
		current = NULL;
	}
}
