/*
 * Hypercalls: the guest's system calls into the hypervisor.
 *
 * A PV guest calls hypercall N through slot N of its hypercall page, which executes
 * VMMCALL/VMCALL with the number in RAX and the arguments in RDI, RSI, RDX, R10, R8
 * (include/public/xen.h).  The instruction exits to the hypervisor; hypercall_entry() reads
 * the registers, runs the handler from the table below and puts the result in RAX.
 *
 * A long hypercall (a batch) must not hold the CPU: between pieces of work it asks
 * hypercall_preempt_check(), and once the time slice is over it returns
 * hypercall_create_continuation() -- the guest then re-executes the same hypercall with
 * its arguments advanced past the work done, after other domains had their turn (Xen's
 * XSA-45 fix).  Inside a multicall, the continuation rewrites that entry's arguments and
 * the multicall itself continues at that entry.
 */
#include "hv/hv.h"

/* The state of one hypercall in progress (one physical CPU: one at a time). */
static struct {
	u8 insn_len;		/* of the hypercall instruction that exited */
	bool in_multicall;	/* running an entry of a multicall */
	bool again;		/* that entry made a continuation ... */
	u64 args[5];		/* ... to be re-run with these arguments */
} hc;

/* The VM exit of a hypercall instruction: note its length (for a continuation), then let
 * hypercall_entry() (lab 1) dispatch it. */
void hypercall_exit(struct vcpu *v, struct vm_exit *e)
{
	hc.insn_len = e->insn_len;
	hc.in_multicall = false;
	hypercall_entry(v, e);
}

/* Should a long hypercall stop here and continue later?  Yes once the running vCPU's time
 * slice is over. */
bool hypercall_preempt_check(void)
{
	return sched_slice_over();
}

/* Arrange for hypercall op to be made again with arguments a1..a5 and give up the CPU.
 * Returns what the handler must return: op, which hypercall_entry() puts in RAX.  Outside a
 * multicall it moves RIP back over the hypercall instruction (hypercall_entry() steps over
 * it before dispatching -- lab 1's contract) and writes a1..a5 into the argument registers,
 * so the guest re-executes it as if it had made it anew (the registers' old values are
 * not preserved: the ABI says hypercalls clobber them).  Inside a multicall it only
 * records the arguments for do_multicall(). */
long hypercall_create_continuation(struct vcpu *v, u64 op, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	sched_yield();
	if (hc.in_multicall) {
		hc.again = true;
		hc.args[0] = a1, hc.args[1] = a2, hc.args[2] = a3, hc.args[3] = a4, hc.args[4] = a5;
		return (long)op;
	}
	struct cpu_regs *r = &v->regs;
	r->rip -= hc.insn_len;
	r->rdi = a1, r->rsi = a2, r->rdx = a3, r->r10 = a4, r->r8 = a5;
	return (long)op;
}

/* Run one entry of a multicall (never a nested multicall: the caller refuses those).
 * Returns its result, or sets *again when it made a continuation: mc->args then hold the
 * arguments to re-run it with, and the caller must write them back to the guest's entry
 * and continue the multicall at this same entry. */
long multicall_run_entry(struct vcpu *v, struct multicall_entry *mc, bool *again)
{
	hc.in_multicall = true;
	hc.again = false;
	long r = hypercall_call(v, mc->op, mc->args);
	hc.in_multicall = false;
	*again = hc.again;
	if (hc.again)
		memcpy(mc->args, hc.args, sizeof(hc.args));	/* args[5] is unused */
	return r;
}

static long do_sched_op_hc(struct vcpu *v, u64 cmd, u64 arg, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
	return do_sched_op(v, cmd, arg);
}

static const hypercall_fn hypercall_table[NR_HYPERCALLS] = {
	[__HYPERVISOR_console_io] = do_console_io,
	[__HYPERVISOR_fpu_taskswitch] = do_fpu_taskswitch,
	[__HYPERVISOR_sched_op] = do_sched_op_hc,
	[__HYPERVISOR_xen_version] = do_xen_version,
	[__HYPERVISOR_multicall] = do_multicall,
	[__HYPERVISOR_mmu_update] = do_mmu_update,
	[__HYPERVISOR_mmuext_op] = do_mmuext_op,
	[__HYPERVISOR_update_va_mapping] = do_update_va_mapping,
	[__HYPERVISOR_set_timer_op] = do_set_timer_op,
	[__HYPERVISOR_hvm_op] = do_hvm_op,
	[__HYPERVISOR_event_channel_op] = do_event_channel_op,
	[__HYPERVISOR_memory_op] = do_memory_op,
	[__HYPERVISOR_grant_table_op] = do_grant_table_op,
	[__HYPERVISOR_domctl] = do_domctl,
	[__HYPERVISOR_pvlab_debug_op] = do_debug_op,
};

/* Run hypercall nr with args for v; -XEN_ENOSYS if there is no such hypercall. */
long hypercall_call(struct vcpu *v, u64 nr, const u64 args[5])
{
	if (nr >= NR_HYPERCALLS || !hypercall_table[nr])
		return -XEN_ENOSYS;
	return hypercall_table[nr](v, args[0], args[1], args[2], args[3], args[4]);
}

/* The VM exit of a hypercall instruction: dispatch it and return to the guest after it. */
void hypercall_entry(struct vcpu *v, struct vm_exit *e)
{
#if SOLUTION(1)
	struct cpu_regs *r = &v->regs;
	/* Step over VMMCALL/VMCALL first: a handler that blocks or yields must resume the
	 * guest after the instruction, not on it; and hypercall_create_continuation() steps
	 * back over it to make the guest re-execute it. */
	r->rip += e->insn_len;
	/* Only the guest kernel may call the hypervisor; its user programs must ask their
	 * kernel (Xen XSA-76). */
	if (vcpu_ops->get_cpl(v) != 0) {
		r->rax = (u64)-XEN_EPERM;
		return;
	}
	const u64 args[5] = { r->rdi, r->rsi, r->rdx, r->r10, r->r8 };
	r->rax = (u64)hypercall_call(v, r->rax, args);
#else // SOLUTION(1)
	/* Lab 1: read the hypercall number and arguments from v->regs by the calling
	 * convention, step RIP over the instruction (e->insn_len bytes) *before* dispatching
	 * (a handler that blocks, yields or makes a continuation relies on it), refuse callers
	 * outside ring 0, dispatch with hypercall_call() and put the result in RAX. */
	lab_stub_warn(v, 1, "hypercall_entry");
	v->regs.rax = (u64)-XEN_ENOSYS;
	v->regs.rip += e->insn_len;
#endif // SOLUTION(1)
}

/* multicall(calls, nr_calls): see include/public/xen.h. */
long do_multicall(struct vcpu *v, u64 calls, u64 nr_calls, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
#if SOLUTION(1)
	if (nr_calls > MULTICALL_MAX)
		return -XEN_EINVAL;
	for (u64 i = 0; i < nr_calls; i++) {
		struct multicall_entry mc;
		u64 where = calls + i * sizeof(mc);
		/* Between entries, give up the CPU once the slice is over: continue at entry i. */
		if (i > 0 && hypercall_preempt_check())
			return hypercall_create_continuation(v, __HYPERVISOR_multicall, where, nr_calls - i, 0, 0, 0);
		if (copy_from_guest(v, &mc, where, sizeof(mc)) < 0)
			return -XEN_EFAULT;
		bool again = false;
		/* A nested multicall could recurse without bound on the hypervisor stack. */
		if (mc.op == __HYPERVISOR_multicall)
			mc.result = (u64)-XEN_EINVAL;
		else
			mc.result = (u64)multicall_run_entry(v, &mc, &again);
		if (again) {	/* the entry itself was preempted: re-run it with its new args */
			if (copy_to_guest(v, where + __builtin_offsetof(struct multicall_entry, args),
					  mc.args, sizeof(mc.args)) < 0)
				return -XEN_EFAULT;
			return hypercall_create_continuation(v, __HYPERVISOR_multicall, where, nr_calls - i, 0, 0, 0);
		}
		if (copy_to_guest(v, where + __builtin_offsetof(struct multicall_entry, result),
				  &mc.result, sizeof(mc.result)) < 0)
			return -XEN_EFAULT;
		/* An entry that shut the domain down ends the batch. */
		if (v->dom->state != DOM_RUNNING)
			break;
	}
	return 0;
#else // SOLUTION(1)
	/* Lab 1: for each of nr_calls entries (at most MULTICALL_MAX): copy it in, refuse a
	 * nested multicall with -XEN_EINVAL, run it with multicall_run_entry() and copy its
	 * result back; stop with -XEN_EFAULT on an entry that cannot be read or written.  Stay
	 * preemptible: before every entry but the first, if hypercall_preempt_check() says so,
	 * return hypercall_create_continuation() for the rest of the batch; and an entry that
	 * multicall_run_entry() says must run again gets its new args written back and the
	 * batch continues at it. */
	(void)calls, (void)nr_calls;
	lab_stub_warn(v, 1, "do_multicall");
	return -XEN_ENOSYS;
#endif // SOLUTION(1)
}

long do_xen_version(struct vcpu *v, u64 cmd, u64 arg, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
	static const char extra[sizeof(xen_extraversion_t)] = "-pvlab";
	static const char caps[sizeof(xen_capabilities_info_t)] = "xen-3.0-x86_64";
	switch (cmd) {
	case XENVER_version:
		return (PVLAB_VERSION_MAJOR << 16) | PVLAB_VERSION_MINOR;
	case XENVER_extraversion:
		return copy_to_guest(v, arg, extra, sizeof(extra));
	case XENVER_capabilities:
		return copy_to_guest(v, arg, caps, sizeof(caps));
	default:
		return -XEN_ENOSYS;
	}
}

/* PVLAB_DEBUG_domain_state returns enum dom_state: the numbers xen.h documents. */
STATIC_ASSERT(DOM_FREE == 0 && DOM_RUNNING == 1 && DOM_DYING == 2 && DOM_DEAD == 3);

long do_debug_op(struct vcpu *v, u64 cmd, u64 arg, u64 a3, u64 a4, u64 a5)
{
	switch (cmd) {
	case PVLAB_DEBUG_exit_count:
		return (long)v->exits;
	case PVLAB_DEBUG_exit_total:
		return (long)hv_exit_total;
	case PVLAB_DEBUG_audit:
		return mm_audit(v->dom);
	case PVLAB_DEBUG_system_time:
		return (long)system_time();
	case PVLAB_DEBUG_free_frames:
		return (long)frames_free_count();
	case PVLAB_DEBUG_log: {
		char s[PVLAB_LOG_MAX];
		long n = copy_string_from_guest(v, s, arg, sizeof(s));
		if (n >= 0)
			guest_console_log(v->dom, s);
		return n;
	}
	case PVLAB_DEBUG_fpu_switches:
		return (long)v->fpu_switches;
	case PVLAB_DEBUG_domain_state:	/* tests: wait for another domain's teardown to end */
		if (arg >= MAX_DOMAINS)
			return -XEN_ESRCH;
		return (long)domains[arg].state;
	case PVLAB_DEBUG_time_stress:
		time_stress_set(v->dom, arg != 0);
		return 0;
	case PVLAB_DEBUG_block_count:
		return (long)v->blocks;
	case PVLAB_DEBUG_args:
		if ((arg | a3 | a4 | a5) > 0xff)
			return -XEN_EINVAL;
		return (long)(arg | a3 << 8 | a4 << 16 | a5 << 24);
	default:
		return -XEN_ENOSYS;
	}
}

/* Print "pvlab: lab N: what not implemented" once per stub and domain (v NULL: once per
 * run), so that a student's failing test names the function to write. */
void lab_stub_warn(struct vcpu *v, int lab, const char *what)
{
	static const char *said_once[64];
	if (!first_time(v ? v->dom->lab_warned : said_once, ARRAY_SIZE(said_once), what))
		return;
	if (v)
		printf("pvlab: lab %d: %s not implemented (d%u)\n", lab, what, v->dom->id);
	else
		printf("pvlab: lab %d: %s not implemented\n", lab, what);
}
