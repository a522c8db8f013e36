/*
 * Hypercalls: the guest's system calls into the hypervisor.
 *
 * A PV guest calls hypercall N through slot N of its hypercall page, which executes
 * VMMCALL/VMCALL with the number in RAX and the arguments in RDI, RSI, RDX, R10, R8
 * (include/public/xen.h).  The instruction exits to the hypervisor; hypercall_entry() reads
 * the registers, runs the handler from the table below and puts the result in RAX.
 */
#include "hv/hv.h"



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
	 * guest after the instruction, not on it. */
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
	 * convention, refuse callers outside ring 0, dispatch with hypercall_call(), put the
	 * result in RAX and step RIP over the instruction (e->insn_len bytes). */
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
		if (copy_from_guest(v, &mc, where, sizeof(mc)) < 0)
			return -XEN_EFAULT;
		/* A nested multicall could recurse without bound on the hypervisor stack. */
		if (mc.op == __HYPERVISOR_multicall)
			mc.result = (u64)-XEN_EINVAL;
		else
			mc.result = (u64)hypercall_call(v, mc.op, mc.args);
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
	 * nested multicall with -XEN_EINVAL, run it with hypercall_call() and copy its result
	 * back; stop with -XEN_EFAULT on an entry that cannot be read or written. */
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

long do_debug_op(struct vcpu *v, u64 cmd, u64 arg, u64 a3, u64 a4, u64 a5)
{
	switch (cmd) {
	case PVLAB_DEBUG_exit_count:
		return (long)v->exits;
	case PVLAB_DEBUG_audit:
		return mm_audit(v->dom);
	case PVLAB_DEBUG_system_time:
		return (long)system_time();
	case PVLAB_DEBUG_log: {
		char s[PVLAB_LOG_MAX];
		long n = copy_string_from_guest(v, s, arg, sizeof(s));
		if (n >= 0)
			guest_console_log(v->dom, s);
		return n;
	}
	case PVLAB_DEBUG_fpu_switches:
		return (long)v->fpu_switches;
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
	static const char *said_once[16];
	if (!first_time(v ? v->dom->lab_warned : said_once, ARRAY_SIZE(said_once), what))
		return;
	if (v)
		printf("pvlab: lab %d: %s not implemented (d%u)\n", lab, what, v->dom->id);
	else
		printf("pvlab: lab %d: %s not implemented\n", lab, what);
}
