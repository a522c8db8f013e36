/*
 * What happens after a VM exit, for either vendor.  The backend has decoded the exit into a
 * struct vm_exit; here we emulate what the guest tried, refuse what it may not do (by
 * injecting the fault real hardware would raise), or crash the domain.  A legal instruction
 * is emulated or faulted as hardware would (MOV to CRn and LMSW in every encoding are
 * decoded here when the CPU did not); only what no correct guest can cause -- a triple
 * fault, a failed VM entry, an instruction rewritten under us -- crashes the domain.  A
 * guest can never make this code fault or reach another domain: at worst it crashes itself.
 */
#include "hv/hv.h"
#include "hv/trace.h"

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
	if (emunic_owns_port(e->io.port)) {	/* lab 6: the emulated NIC, for comparison */
		if (emunic_io(v, e))
			skip_insn(v, e);
		else
			inject_exception(v, EXC_GP, 0);
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

/* The instruction at the guest's RIP, fetched a byte at a time as the decoder needs it, so
 * that one ending just before an unmapped page still decodes. */
struct insn {
	struct vcpu *v;
	unsigned len;		/* bytes fetched so far */
	bool bad;		/* a fetch failed, or the 15-byte limit was passed */
	u8 rex;			/* the REX prefix (0 = none) */
	u8 seg;			/* 0x64 (FS) or 0x65 (GS) override, else 0 */
	bool lock, addr32;	/* LOCK; address-size override (0x67) */
	bool opsize16;		/* operand-size override (0x66) */
};

static u8 insn_byte(struct insn *in)
{
	u8 b = 0;
	if (in->len >= 15 || copy_from_guest(in->v, &b, in->v->regs.rip + in->len, 1) < 0)
		in->bad = true;
	in->len++;
	return b;
}

static s32 insn_s32(struct insn *in)
{
	u32 d = 0;
	for (int i = 0; i < 4; i++)
		d |= (u32)insn_byte(in) << (8 * i);
	return (s32)d;
}

/* Skip the prefixes and return the first opcode byte.  A REX prefix counts only right
 * before the opcode; operand-size (0x66), REP and segment prefixes other than FS/GS
 * change nothing that MOV CR, CLTS or LMSW do in 64-bit mode. */
static u8 insn_prefixes(struct insn *in)
{
	for (;;) {
		u8 b = insn_byte(in);
		if (in->bad)
			return 0;
		if ((b & 0xf0) == 0x40) {
			in->rex = b;
			continue;
		}
		switch (b) {
		case 0xf0: in->lock = true; break;
		case 0x64: case 0x65: in->seg = b; break;
		case 0x67: in->addr32 = true; break;
		case 0x66: in->opsize16 = true; break;
		case 0xf2: case 0xf3: case 0x26: case 0x2e: case 0x36: case 0x3e: break;
		default: return b;
		}
		in->rex = 0;	/* a legacy prefix after REX cancels it */
	}
}

/* The linear address a memory ModRM operand names (64-bit mode: SIB, disp8/32, RIP-relative,
 * 0x67 truncation, FS/GS base). */
static u64 insn_address(struct insn *in, u8 modrm)
{
	const u64 *r = in->v->regs.gpr;
	unsigned mod = modrm >> 6, rm = modrm & 7;
	bool rip_rel = false;
	u64 a = 0;
	if (rm == 4) {
		u8 sib = insn_byte(in);
		unsigned index = ((sib >> 3) & 7) | (in->rex & 2 ? 8 : 0), base = sib & 7;
		if (index != 4)
			a += r[index] << (sib >> 6);
		if (base == 5 && mod == 0)
			a += (u64)(s64)insn_s32(in);
		else
			a += r[base | (in->rex & 1 ? 8 : 0)];
	} else if (rm == 5 && mod == 0) {
		rip_rel = true;
		a = (u64)(s64)insn_s32(in);
	} else {
		a = r[rm | (in->rex & 1 ? 8 : 0)];
	}
	if (mod == 1)
		a += (u64)(s64)(s8)insn_byte(in);
	else if (mod == 2)
		a += (u64)(s64)insn_s32(in);
	if (rip_rel)
		a += in->v->regs.rip + in->len;	/* LMSW has no immediate: the end is here */
	if (in->addr32)
		a = (u32)a;
	if (in->seg)
		a += vcpu_ops->get_fs_gs_base(in->v, in->seg == 0x65);
	return a;
}

/* LMSW's 16-bit source: a register, or memory read as the guest would (0 if done, else
 * the exception the read raises). */
static int lmsw_source(struct insn *in, u8 modrm, struct vm_exit *e)
{
	u16 src;
	if (modrm >> 6 == 3) {
		e->cr.lmsw = (u16)in->v->regs.gpr[(modrm & 7) | (in->rex & 1 ? 8 : 0)];
		return 0;
	}
	u64 a = insn_address(in, modrm);
	if (in->bad)
		return 0;
	if (!IS_CANONICAL(a))
		return EXC_GP;
	if (copy_from_guest(in->v, &src, a, sizeof(src)) < 0) {
		vcpu_ops->set_cr(in->v, 2, a);
		return EXC_PF;	/* error code 0: a read of a page that is not present */
	}
	e->cr.lmsw = src;
	return 0;
}

/* SMSW (lab 8: it reads CR0, so it exits while TS is set underneath the guest): store the
 * guest's own CR0 as hardware would -- the whole register into a register operand (the
 * low 16 bits under 0x66), the low 16 bits into memory.  0 if done, else the
 * exception the store raises. */
static int smsw_store(struct insn *in, u8 modrm)
{
	u64 cr0 = vcpu_ops->get_cr(in->v, 0);
	if (modrm >> 6 == 3) {
		u64 *r = &in->v->regs.gpr[(modrm & 7) | (in->rex & 1 ? 8 : 0)];
		*r = in->opsize16 ? (*r & ~0xffffULL) | (u16)cr0 : in->rex & 8 ? cr0 : (u32)cr0;
		return 0;
	}
	u64 a = insn_address(in, modrm);
	u16 w = (u16)cr0;
	if (in->bad)
		return 0;
	if (!IS_CANONICAL(a))
		return EXC_GP;
	if (copy_to_guest(in->v, a, &w, sizeof(w)) < 0) {
		vcpu_ops->set_cr(in->v, 2, a);
		return EXC_PF;	/* reported as a write to a page that is not present */
	}
	return 0;
}

/* Decode the CR-writing instruction at RIP ourselves when the CPU did not: MOV to CRn
 * ([prefixes] [REX] 0f 22 /r: the mod bits are ignored, REX.R selects CR8-15, REX.B the
 * register), CLTS (0f 06) or LMSW (0f 01 /6, register or memory); for a read exit (lab 8),
 * MOV from CRn (0f 20 /r) or SMSW (0f 01 /4), which smsw_store() also carries out.  Returns
 * 0 (decoded into *e, or left CR_UNKNOWN if the bytes are none of these), or the exception
 * hardware would raise: #UD for a LOCK prefix, #GP/#PF for LMSW's or SMSW's memory operand. */
static int decode_cr_insn(struct vcpu *v, struct vm_exit *e)
{
	struct insn in = { .v = v };
	bool rd = e->reason == EXIT_CR_READ;
	u8 b = insn_prefixes(&in), op = insn_byte(&in);
	if (in.bad || b != 0x0f || (op != (rd ? 0x20 : 0x22) && op != 0x01 && (rd || op != 0x06)))
		return 0;
	if (in.lock)
		return EXC_UD;
	int fault = 0;
	if (op == 0x06) {
		e->cr.kind = CR_CLTS;
	} else {
		u8 modrm = insn_byte(&in);
		unsigned reg = (modrm >> 3) & 7;
		unsigned n = reg | (in.rex & 4 ? 8 : 0);
		/* A read exit names CR0, the one read we intercept, but QEMU 10's SVM was
		 * seen to exit for a read of CR3 too (7.2 does not): for CR2-CR4, carry out
		 * what the instruction reads, as the CPU would have. */
		if ((op == 0x22 || op == 0x20) && (n == e->cr.cr || (rd && (n == 2 || n == 3 || n == 4)))) {
			e->cr.kind = CR_MOV;
			e->cr.cr = (u8)n;
			e->cr.gpr = (modrm & 7) | (in.rex & 1 ? 8 : 0);
		} else if (op == 0x01 && reg == 6 && e->cr.cr == 0 && !rd) {
			e->cr.kind = CR_LMSW;
			fault = lmsw_source(&in, modrm, e);
		} else if (op == 0x01 && reg == 4 && e->cr.cr == 0 && rd) {
			e->cr.kind = CR_SMSW;
			fault = smsw_store(&in, modrm);
		} else {
			return 0;
		}
	}
	if (in.bad) {
		e->cr.kind = CR_UNKNOWN;
		return 0;
	}
	e->insn_len = in.len;
	return fault;
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

/* The value a CLTS, LMSW or MOV to CRn would write (LMSW: MP, EM and TS from the source's
 * low bits, and PE, which it can set but never clear). */
static u64 cr_write_value(struct vcpu *v, struct vm_exit *e, u64 old)
{
	switch (e->cr.kind) {
	case CR_CLTS: return old & ~CR0_TS;
	case CR_LMSW: return (old & ~0xfULL) | ((u64)e->cr.lmsw & 0xf) | (old & CR0_PE);
	default: return v->regs.gpr[e->cr.gpr];
	}
}

static void handle_cr_write(struct vcpu *v, struct vm_exit *e)
{
	if (e->cr.kind == CR_UNKNOWN || !e->insn_len || (e->cr.kind == CR_MOV && e->cr.gpr < 0) ||
	    (e->cr.kind == CR_LMSW && e->cr.lmsw < 0)) {
		int fault = decode_cr_insn(v, e);
		if (fault) {
			inject_exception(v, (u8)fault, 0);
			return;
		}
	}
	bool known = (e->cr.kind == CR_MOV && e->cr.gpr >= 0) ||
		     (e->cr.kind == CR_LMSW && e->cr.lmsw >= 0 && e->cr.cr == 0) ||
		     (e->cr.kind == CR_CLTS && e->cr.cr == 0);
	if (!known || !e->insn_len) {
		/* Only a guest that rewrote the instruction under us gets here. */
		domain_crash(v->dom, "cannot decode the write to CR%u at %lx", e->cr.cr, v->regs.rip);
		return;
	}
	u64 old = vcpu_ops->get_cr(v, e->cr.cr), val = cr_write_value(v, e, old);
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

/* A read of CR0 that exited (lab 8, SVM: TS set underneath the guest): the guest gets
 * its own CR0, never the TS the hypervisor set for lazy FPU switching. */
static void handle_cr_read(struct vcpu *v, struct vm_exit *e)
{
	e->cr.kind = CR_UNKNOWN;
	e->insn_len = 0;
	int fault = decode_cr_insn(v, e);
	if (fault) {
		inject_exception(v, (u8)fault, 0);
		return;
	}
	if (e->cr.kind == CR_MOV && e->cr.gpr >= 0)
		v->regs.gpr[e->cr.gpr] = vcpu_ops->get_cr(v, e->cr.cr);
	else if (e->cr.kind != CR_SMSW || !e->insn_len) {
		domain_crash(v->dom, "cannot decode the read of CR%u at %lx", e->cr.cr, v->regs.rip);
		return;
	}
	skip_insn(v, e);
}

static void handle_exception(struct vcpu *v, struct vm_exit *e)
{
	/* #DB and #AC are intercepted only so that they cannot hang the CPU; the guest
	 * handles them itself.  A machine check is the host's business. */
	if (e->exc.vector == EXC_MC)
		panic("machine check while running d%u", v->dom->id);
	if (e->exc.vector == EXC_NM && fpu_nm_exit(v))
		return;	/* lab 8: the hypervisor's own lazy-FPU trap, handled */
	inject_exception(v, e->exc.vector, e->exc.err);
}

/* Guest-caused VM exits so far, all domains: the grader's heartbeat (grade/hang.py reads it
 * through QEMU's monitor): a run whose output and heartbeat both stand still is hung. */
volatile u64 hv_heartbeat;
u64 hv_exit_total;	/* every VM exit of every vCPU since boot (PVLAB_DEBUG_exit_total) */

void handle_exit(struct vcpu *v, struct vm_exit *e)
{
	trace_exit(v, e);
	v->exits++;
	hv_exit_total++;
	if (e->reason != EXIT_INTR)	/* the host's own timer ticks are no guest progress */
		hv_heartbeat++;
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
	case EXIT_CR_READ: handle_cr_read(v, e); break;
	case EXIT_EXCEPTION: handle_exception(v, e); break;
	case EXIT_INTR: break;	/* the host took it on the way out of svm_vmrun/vmx_run */
	case EXIT_NONE: break;
	case EXIT_INTR_WINDOW: vcpu_ops->set_intercept(v, INTERCEPT_INTR_WINDOW, false); break;
	case EXIT_TRIPLE_FAULT: domain_crash(v->dom, "triple fault"); break;
	case EXIT_FORBIDDEN: inject_exception(v, EXC_UD, 0); break;
	case EXIT_ENTRY_FAILED: domain_crash(v->dom, "VM entry failed: %s", e->why); break;
	case EXIT_UNHANDLED:
		domain_crash(v->dom, "%s %lx (info %lx)", e->why, e->raw, e->info);
		break;
	}
	trace_exit_done(v);
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
