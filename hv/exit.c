/*
 * What happens after a VM exit, for either vendor.  The backend has decoded the exit into a
 * struct vm_exit; here we emulate what the guest tried, refuse what it may not do (by
 * injecting the fault real hardware would raise), or crash the domain.  A guest can never
 * make this code fault or reach another domain: at worst it crashes itself.
 */
#include "hv/hv.h"

/* Port 0xE9: the debug console, as in Bochs, QEMU and Xen HVM.  Guests print here before
 * (or without) the console_io hypercall; the output goes to the same "(dN) " lines. */
#define DEBUG_CONSOLE_PORT 0xe9

void inject_exception(struct vcpu *v, u8 vector, u32 err)
{
	vcpu_ops->inject(v, EVENT_EXCEPTION, vector, EXC_HAS_ERRCODE(vector), err);
}

static void skip_insn(struct vcpu *v, struct vm_exit *e)
{
	v->regs.rip += e->insn_len;
}

static void handle_cpuid(struct vcpu *v, struct vm_exit *e)
{
	struct cpuid_regs r;
	u32 leaf = (u32)v->regs.rax, sub = (u32)v->regs.rcx;
	cpuid(leaf, sub, &r.eax, &r.ebx, &r.ecx, &r.edx);
	cpuid_filter(leaf, sub, &r);
	v->regs.rax = r.eax, v->regs.rbx = r.ebx, v->regs.rcx = r.ecx, v->regs.rdx = r.edx;
	skip_insn(v, e);
}

static void handle_io(struct vcpu *v, struct vm_exit *e)
{
	if (e->io.port == DEBUG_CONSOLE_PORT && !e->io.in && !e->io.string && e->io.size == 1) {
		guest_console_putc(v->dom, (char)v->regs.rax);
		skip_insn(v, e);
		return;
	}
	/* No other port is the guest's: real hardware would #GP an unprivileged access. */
	inject_exception(v, EXC_GP, 0);
}

/* The MSRs a guest may use are passed through (svm.c/vmx.c); these few are emulated,
 * and every other one #GPs, as an MSR that does not exist would. */
static void handle_msr(struct vcpu *v, struct vm_exit *e, bool write)
{
	u32 msr = (u32)v->regs.rcx;
	u64 val = (v->regs.rdx << 32) | (u32)v->regs.rax;
	if (msr == MSR_EFER) {
		u64 efer = vcpu_ops->get_efer(v);
		if (write) {
			/* Only SYSCALL enable and NX may change; long mode is not negotiable. */
			if ((val ^ efer) & ~(EFER_SCE | EFER_NXE))
				goto gp;
			vcpu_ops->set_efer(v, val);
		} else {
			v->regs.rax = (u32)efer, v->regs.rdx = efer >> 32;
		}
	} else if (msr == MSR_TSC && !write) {
		u64 t = rdtsc();
		v->regs.rax = (u32)t, v->regs.rdx = t >> 32;
	} else {
		goto gp;
	}
	skip_insn(v, e);
	return;
gp:
	inject_exception(v, EXC_GP, 0);
}

/* Decode the CR-writing instruction at RIP ourselves when the CPU did not: MOV to CRn
 * ([REX] 0f 22 /r), CLTS (0f 06) or LMSW (0f 01 /6). */
static void decode_cr_insn(struct vcpu *v, struct vm_exit *e)
{
	u8 b[4] = { 0 };
	unsigned i = 0;
	if (copy_from_guest(v, b, v->regs.rip, sizeof(b)) < 0)
		return;
	u8 rex = 0;
	if ((b[0] & 0xf0) == 0x40)
		rex = b[i++];
	if (b[i] != 0x0f)
		return;
	if (b[i + 1] == 0x06) {
		e->cr.kind = CR_CLTS;
		e->insn_len = i + 2;
	} else if (b[i + 1] == 0x22 && (b[i + 2] >> 6) == 3) {
		e->cr.kind = CR_MOV;
		e->cr.gpr = (b[i + 2] & 7) | (rex & 1 ? 8 : 0);
		e->insn_len = i + 3;
	} else if (b[i + 1] == 0x01 && ((b[i + 2] >> 3) & 7) == 6) {
		e->cr.kind = CR_LMSW;
	}
}

/* CR0 bits a guest may change; the rest (PE, PG, WP, NE, ...) keep it inside direct paging. */
#define CR0_GUEST_BITS (CR0_TS | CR0_MP | CR0_EM | CR0_AM)
#define CR4_GUEST_BITS (CR4_TSD | CR4_DE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT)

/* A guest CR3 must name a page-table root that is the domain's own, validated and pinned. */
static bool cr3_allowed(struct vcpu *v, u64 val)
{
	if (val & ~(PTE_ADDR_MASK | PTE_PWT | PTE_PCD))
		return false;
	return is_pinned_l4(v->dom, val >> PAGE_SHIFT);
}

static void handle_cr_write(struct vcpu *v, struct vm_exit *e)
{
	if (e->cr.kind == CR_UNKNOWN || (e->cr.kind == CR_MOV && e->cr.gpr < 0))
		decode_cr_insn(v, e);
	if (e->cr.kind == CR_CLTS && e->cr.cr == 0) {
		vcpu_ops->set_cr(v, 0, vcpu_ops->get_cr(v, 0) & ~CR0_TS);
		skip_insn(v, e);
		return;
	}
	if (e->cr.kind != CR_MOV || e->cr.gpr < 0 || !e->insn_len) {
		domain_crash(v->dom, "cannot decode the write to CR%u at %lx", e->cr.cr, v->regs.rip);
		return;
	}
	u64 val = v->regs.gpr[e->cr.gpr], old = vcpu_ops->get_cr(v, e->cr.cr);
	bool ok;
	switch (e->cr.cr) {
	case 0: ok = !((val ^ old) & ~CR0_GUEST_BITS); break;
	case 4: ok = !((val ^ old) & ~CR4_GUEST_BITS); break;
	case 3: ok = cr3_allowed(v, val); break;
	default: ok = false;
	}
	if (!ok) {
		inject_exception(v, EXC_GP, 0);
		return;
	}
	if (e->cr.cr == 3)
		set_baseptr(v, val >> PAGE_SHIFT);
	else
		vcpu_ops->set_cr(v, e->cr.cr, val);
	skip_insn(v, e);
}

static void handle_exception(struct vcpu *v, struct vm_exit *e)
{
	/* #DB and #AC are intercepted only so that they cannot hang the CPU; the guest
	 * handles them itself.  A machine check is the host's business. */
	if (e->exc.vector == EXC_MC)
		panic("machine check while running d%u", v->dom->id);
	inject_exception(v, e->exc.vector, e->exc.err);
}

void handle_exit(struct vcpu *v, struct vm_exit *e)
{
	v->exits++;
	time_stress_step(v->dom);
	switch (e->reason) {
	case EXIT_HYPERCALL: hypercall_exit(v, e); break;
	case EXIT_CPUID: handle_cpuid(v, e); break;
	case EXIT_HLT:
		/* Sleep until an event, unless one is pending and could be delivered now. */
		skip_insn(v, e);
		if (!(event_pending(v) && (v->regs.rflags & RFLAGS_IF)))
			vcpu_block(v);
		break;
	case EXIT_IO: handle_io(v, e); break;
	case EXIT_MSR_READ: handle_msr(v, e, false); break;
	case EXIT_MSR_WRITE: handle_msr(v, e, true); break;
	case EXIT_CR_WRITE: handle_cr_write(v, e); break;
	case EXIT_EXCEPTION: handle_exception(v, e); break;
	case EXIT_INTR: break;	/* the host took it on the way out of svm_vmrun/vmx_run */
	case EXIT_INTR_WINDOW: vcpu_ops->set_intercept(v, INTERCEPT_INTR_WINDOW, false); break;
	case EXIT_TRIPLE_FAULT: domain_crash(v->dom, "triple fault"); break;
	case EXIT_FORBIDDEN: inject_exception(v, EXC_UD, 0); break;
	case EXIT_ENTRY_FAILED: domain_crash(v->dom, "VM entry failed: %s", e->why); break;
	case EXIT_UNHANDLED:
		domain_crash(v->dom, "%s %lx (info %lx)", e->why, e->raw, e->info);
		break;
	}
}

/* Registers, control state and the top of the guest stack, for a crash report. */
void guest_dump(struct vcpu *v)
{
	struct cpu_regs *r = &v->regs;
	printf("  rip %016lx  rsp %016lx  rflags %016lx  exits %lu\n", r->rip, r->rsp, r->rflags, v->exits);
	printf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", r->rax, r->rbx, r->rcx, r->rdx);
	printf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", r->rsi, r->rdi, r->rbp, r->r8);
	printf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", r->r9, r->r10, r->r11, r->r12);
	printf("  r13 %016lx  r14 %016lx  r15 %016lx\n", r->r13, r->r14, r->r15);
	printf("  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx\n", vcpu_ops->get_cr(v, 0),
	       vcpu_ops->get_cr(v, 2), vcpu_ops->get_cr(v, 3), vcpu_ops->get_cr(v, 4));
	vcpu_ops->dump(v);
	u64 stack[4];
	if (copy_from_guest(v, stack, r->rsp, sizeof(stack)) >= 0)
		printf("  stack %016lx %016lx %016lx %016lx\n", stack[0], stack[1], stack[2], stack[3]);
	else
		printf("  stack unreadable at %lx\n", r->rsp);
}
