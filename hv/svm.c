/*
 * The AMD SVM backend of the vCPU interface (hv/vcpu.h).
 *
 * Each vCPU has a VMCB: a control area saying what to intercept and a save area holding the
 * guest's state.  Nested paging is off: the guest's CR3 points at page tables that hold
 * machine addresses, which the hypervisor validates (direct paging, as in Xen PV).  So every
 * way a ring-0 guest could reach memory or devices behind our back is intercepted here.
 *
 * Under QEMU's TCG the CPU lacks NRIPS and decode assists (see docs/ARCHITECTURE.md), so we
 * advance RIP by known instruction lengths ourselves and leave CR-write decoding to exit.c.
 */
#include "hv/hv.h"
#include "hv/svm.h"

void svm_vmrun(u64 vmcb_pa, struct cpu_regs *regs, u64 host_vmcb_pa);

struct svm_vcpu {
	struct vmcb *vmcb;
	u64 vmcb_pa;
	u64 guest_cr0;		/* CR0 as the guest sees it; the VMCB's adds TS under fpu_trap */
	bool fpu_trap;		/* set_fpu_trap(): TS set underneath the guest, #NM exits */
};

static u8 *iopm, *msrpm;	/* shared by all vCPUs: the policy is the same for all */
static u64 host_vmcb_pa;
static bool has_nrips, has_decode_assists;
static u32 next_asid = 1, max_asid;

static struct vmcb *vmcb_of(struct vcpu *v) { return ((struct svm_vcpu *)v->hw)->vmcb; }

static const char *svm_probe(void)
{
	u32 a, b, c, d;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < 0x8000000a)
		return "no AMD SVM (CPUID 0x8000000A missing)";
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	if (!(c & BIT(2)))
		return "no AMD SVM (CPUID 0x80000001 ECX.SVM = 0)";
	if (rdmsr(MSR_VM_CR) & BIT(4))
		return "AMD SVM is disabled by the firmware (VM_CR.SVMDIS)";
	cpuid(0x8000000a, 0, &a, &b, &c, &d);
	max_asid = b;
	has_nrips = d & BIT(3);
	has_decode_assists = d & BIT(7);
	return NULL;
}

static void *zpage(void)
{
	mfn_t m = page_alloc(OWNER_XEN);
	if (m == INVALID_MFN)
		panic("svm: out of memory");
	return mfn_to_virt(m);
}

/* Allocate n physically contiguous pages filled with 0xff ("intercept everything"). */
static u8 *intercept_map(unsigned pages)
{
	u8 *first = zpage();
	for (unsigned i = 1; i < pages; i++)
		if (zpage() != first + i * PAGE_SIZE)
			panic("svm: permission map not contiguous");
	memset(first, 0xff, pages * PAGE_SIZE);
	return first;
}

/* Let the guest read and write MSR `msr` without an exit (it is saved by VMSAVE). */
static void msr_passthrough(u32 msr)
{
	u32 base = msr < 0x2000 ? 0 : msr >= 0xc0000000 && msr < 0xc0002000 ? 0x800 : 0x1000;
	u32 idx = (msr & 0x1fff) * 2;	/* two bits per MSR: read, write */
	msrpm[base + idx / 8] &= (u8)~(3 << (idx % 8));
}

static void svm_cpu_enable(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, va2pa(zpage()));
	void *host = zpage();
	host_vmcb_pa = va2pa(host);
	__asm__ volatile("vmsave %0" :: "a"(host_vmcb_pa) : "memory");
	/* Policy: every I/O port and every MSR exits, except the guest-owned segment bases. */
	iopm = intercept_map(3);
	msrpm = intercept_map(2);
	msr_passthrough(MSR_FS_BASE);
	msr_passthrough(MSR_GS_BASE);
	msr_passthrough(MSR_KERNEL_GS_BASE);
	printf("pvlab: SVM on: %u ASIDs, NRIPS %s, decode assists %s\n", max_asid,
	       has_nrips ? "yes" : "no", has_decode_assists ? "yes" : "no");
}

static void set_seg(struct vmcb_seg *s, u16 sel, u16 attr, u32 limit)
{
	*s = (struct vmcb_seg){ .sel = sel, .attr = attr, .limit = limit, .base = 0 };
}

static int svm_vcpu_create(struct vcpu *v, u64 cr3)
{
	struct svm_vcpu *s = zpage();
	s->vmcb = zpage();
	s->vmcb_pa = va2pa(s->vmcb);
	v->hw = s;
	struct vmcb_control *c = &s->vmcb->ctl;
	struct vmcb_save *g = &s->vmcb->save;

	/* What exits.  Writes to CR0, CR3 and CR4 are checked (a guest turning off paging or
	 * write protection, or loading any CR3, would escape direct paging); reads are free. */
	c->cr_write = BIT(0) | BIT(3) | BIT(4);
	c->dr_read = c->dr_write = 0xffff;	/* debug registers are not virtualized */
	/* #AC and #DB are reflected back; intercepting them stops the CPU-hang attacks of
	 * CVE-2015-5307/8104 (an exception loop that never exits).  #MC belongs to the host. */
	c->exceptions = BIT(EXC_AC) | BIT(EXC_DB) | BIT(EXC_MC);
	c->intercept1 = INTCPT1_INTR | INTCPT1_NMI | INTCPT1_SMI | INTCPT1_INIT | INTCPT1_RDPMC |
			INTCPT1_CPUID | INTCPT1_RSM | INTCPT1_INVD | INTCPT1_HLT | INTCPT1_INVLPGA |
			INTCPT1_IOIO | INTCPT1_MSR | INTCPT1_TASK_SWITCH | INTCPT1_FERR_FREEZE |
			INTCPT1_SHUTDOWN;
	c->intercept2 = INTCPT2_VMRUN | INTCPT2_VMMCALL | INTCPT2_VMLOAD | INTCPT2_VMSAVE |
			INTCPT2_STGI | INTCPT2_CLGI | INTCPT2_SKINIT | INTCPT2_ICEBP |
			INTCPT2_WBINVD | INTCPT2_MONITOR | INTCPT2_MWAIT | INTCPT2_MWAIT_COND |
			INTCPT2_XSETBV;
	c->iopm_pa = va2pa(iopm);
	c->msrpm_pa = va2pa(msrpm);
	if (next_asid >= max_asid)
		next_asid = 1;	/* reuse: every VMRUN below flushes the TLB anyway */
	c->asid = next_asid++;
	c->tlb_control = 1;
	/* The guest's IF masks only its virtual interrupts; host interrupts always exit. */
	c->vintr = VINTR_MASKING;

	/* A 64-bit guest in ring 0, paging on, flat segments. */
	set_seg(&g->cs, 0x08, 0x0a9b, 0xffffffff);	/* P, S, code, L, G */
	set_seg(&g->ds, 0x10, 0x0c93, 0xffffffff);
	g->es = g->ss = g->ds;
	set_seg(&g->fs, 0, 0, 0);
	set_seg(&g->gs, 0, 0, 0);
	set_seg(&g->tr, 0, 0x008b, 0x67);		/* busy 64-bit TSS, base 0 */
	set_seg(&g->ldtr, 0, 0x0082, 0);
	set_seg(&g->gdtr, 0, 0, 0);
	set_seg(&g->idtr, 0, 0, 0);
	g->cpl = 0;
	g->efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME;
	g->cr0 = s->guest_cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	g->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	g->cr3 = cr3;
	g->dr6 = 0xffff0ff0;
	g->dr7 = 0x400;
	g->g_pat = 0x0007040600070406ULL;
	g->rflags = RFLAGS_FIXED;
	return 0;
}

static void svm_vcpu_destroy(struct vcpu *v)
{
	struct svm_vcpu *s = v->hw;
	page_free(va2pa(s->vmcb) >> PAGE_SHIFT);
	page_free(va2pa(s) >> PAGE_SHIFT);
	v->hw = NULL;
}

/* The length of the instruction at an exit whose instruction we know, or 0. */
static unsigned known_len(u64 code)
{
	switch (code) {
	case SVM_EXIT_VMMCALL: return 3;	/* 0f 01 d9 */
	case SVM_EXIT_HLT: return 1;		/* f4 */
	case SVM_EXIT_CPUID: return 2;		/* 0f a2 */
	case SVM_EXIT_MSR: return 2;		/* 0f 32 / 0f 30 */
	default: return 0;
	}
}

static const char *forbidden_name(u64 code)
{
	switch (code) {
	case SVM_EXIT_VMRUN: return "VMRUN";
	case SVM_EXIT_VMLOAD: return "VMLOAD";
	case SVM_EXIT_VMSAVE: return "VMSAVE";
	case SVM_EXIT_STGI: return "STGI";
	case SVM_EXIT_CLGI: return "CLGI";
	case SVM_EXIT_SKINIT: return "SKINIT";
	case SVM_EXIT_INVLPGA: return "INVLPGA";
	case SVM_EXIT_INVD: return "INVD";
	case SVM_EXIT_WBINVD: return "WBINVD";
	case SVM_EXIT_MONITOR: return "MONITOR";
	case SVM_EXIT_MWAIT: case SVM_EXIT_MWAIT_COND: return "MWAIT";
	case SVM_EXIT_XSETBV: return "XSETBV";
	case SVM_EXIT_RDPMC: return "RDPMC";
	case SVM_EXIT_RSM: return "RSM";
	case SVM_EXIT_ICEBP: return "ICEBP";
	case SVM_EXIT_TASK_SWITCH: return "task switch";
	default: return NULL;
	}
}

static void decode_exit(struct vcpu *v, struct vmcb *vm, struct vm_exit *e)
{
	u64 code = vm->ctl.exitcode, i1 = vm->ctl.exitinfo1;
	*e = (struct vm_exit){ .raw = code, .info = i1, .insn_len = known_len(code) };
	if (has_nrips && vm->ctl.nrip > v->regs.rip && vm->ctl.nrip - v->regs.rip <= 15)
		e->insn_len = (unsigned)(vm->ctl.nrip - v->regs.rip);

	if (code == SVM_EXIT_VMMCALL) {
		e->reason = EXIT_HYPERCALL;
	} else if (code == SVM_EXIT_CPUID) {
		e->reason = EXIT_CPUID;
	} else if (code == SVM_EXIT_HLT) {
		e->reason = EXIT_HLT;
	} else if (code == SVM_EXIT_IOIO) {
		e->reason = EXIT_IO;
		e->io.in = i1 & 1;
		e->io.string = i1 & BIT(2);
		e->io.rep = i1 & BIT(3);
		e->io.size = i1 & BIT(4) ? 1 : i1 & BIT(5) ? 2 : 4;
		e->io.port = (u16)(i1 >> 16);
		e->insn_len = (unsigned)(vm->ctl.exitinfo2 - v->regs.rip);	/* EXITINFO2 = next RIP */
	} else if (code == SVM_EXIT_MSR) {
		e->reason = i1 ? EXIT_MSR_WRITE : EXIT_MSR_READ;
	} else if ((code >= SVM_EXIT_CR0_WRITE && code <= SVM_EXIT_CR15_WRITE) ||
		   code == SVM_EXIT_CR0_READ) {
		e->reason = code == SVM_EXIT_CR0_READ ? EXIT_CR_READ : EXIT_CR_WRITE;
		e->cr.cr = (u8)(code == SVM_EXIT_CR0_READ ? 0 : code - SVM_EXIT_CR0_WRITE);
		e->cr.kind = CR_UNKNOWN;
		e->cr.gpr = -1;
		e->cr.lmsw = -1;	/* LMSW, CLTS and MOV look alike here: exit.c decodes */
		if (has_decode_assists && (i1 & BIT(63))) {	/* a MOV, register in EXITINFO1 */
			e->cr.kind = CR_MOV;
			e->cr.gpr = (int)(i1 & 15);
		}
	} else if (code >= SVM_EXIT_EXCP_BASE && code <= SVM_EXIT_EXCP_LAST) {
		e->reason = EXIT_EXCEPTION;
		e->exc.vector = (u8)(code - SVM_EXIT_EXCP_BASE);
		e->exc.has_err = EXC_HAS_ERRCODE(e->exc.vector);
		e->exc.err = (u32)i1;
		e->exc.cr2 = vm->ctl.exitinfo2;
	} else if (code == SVM_EXIT_INTR || code == SVM_EXIT_NMI || code == SVM_EXIT_SMI ||
		   code == SVM_EXIT_INIT) {
		e->reason = EXIT_INTR;
	} else if (code == SVM_EXIT_VINTR) {
		e->reason = EXIT_INTR_WINDOW;
	} else if (code == SVM_EXIT_SHUTDOWN) {
		e->reason = EXIT_TRIPLE_FAULT;
	} else if (code >= SVM_EXIT_DR0_READ && code <= SVM_EXIT_DR15_WRITE) {
		e->reason = EXIT_FORBIDDEN;
		e->why = "debug register access";
	} else if ((e->why = forbidden_name(code))) {
		e->reason = EXIT_FORBIDDEN;
	} else if (code == (u64)SVM_EXIT_INVALID) {
		e->reason = EXIT_ENTRY_FAILED;
		e->why = "VMRUN: invalid guest state in the VMCB (exit code -1)";
	} else {
		e->reason = EXIT_UNHANDLED;
		e->why = "unexpected SVM exit code";
	}
}

static void svm_run(struct vcpu *v, struct vm_exit *e)
{
	struct svm_vcpu *s = v->hw;
	struct vmcb *vm = s->vmcb;
	vm->save.rax = v->regs.rax;
	vm->save.rsp = v->regs.rsp;
	vm->save.rip = v->regs.rip;
	vm->save.rflags = v->regs.rflags;
	svm_vmrun(s->vmcb_pa, &v->regs, host_vmcb_pa);
	v->regs.rax = vm->save.rax;
	v->regs.rsp = vm->save.rsp;
	v->regs.rip = vm->save.rip;
	v->regs.rflags = vm->save.rflags;
	vm->ctl.eventinj = 0;
	/* An event interrupted by the exit (say, a #PF while delivering an interrupt) must be
	 * delivered again, or the guest would lose it. */
	if (vm->ctl.exitintinfo & EVENTINJ_VALID)
		vm->ctl.eventinj = vm->ctl.exitintinfo;
	decode_exit(v, vm, e);
}

static void svm_inject(struct vcpu *v, enum event_type type, u8 vector, bool has_err, u32 err)
{
	u64 ev = EVENTINJ_VALID | ((u64)type << EVENTINJ_TYPE_SHIFT) | vector;
	if (has_err)
		ev |= EVENTINJ_EV | ((u64)err << 32);
	vmcb_of(v)->ctl.eventinj = ev;
}

static bool svm_intr_allowed(struct vcpu *v)
{
	struct vmcb *vm = vmcb_of(v);
	return (v->regs.rflags & RFLAGS_IF) && !(vm->ctl.int_state & 1) &&
	       !(vm->ctl.eventinj & EVENTINJ_VALID);
}

static void svm_set_intercept(struct vcpu *v, enum intercept what, bool on)
{
	struct vmcb_control *c = &vmcb_of(v)->ctl;
	switch (what) {
	case INTERCEPT_NM:
		c->exceptions = on ? c->exceptions | BIT(EXC_NM) : c->exceptions & ~(u32)BIT(EXC_NM);
		break;
	case INTERCEPT_INTR_WINDOW:
		/* A virtual interrupt request makes the CPU exit (VINTR) once the guest can
		 * take it; we then inject the real event ourselves. */
		if (on) {
			c->intercept1 |= INTCPT1_VINTR;
			c->vintr |= VINTR_V_IRQ | VINTR_IGN_TPR | (0xfULL << VINTR_PRIO_SHIFT);
		} else {
			c->intercept1 &= ~INTCPT1_VINTR;
			c->vintr &= ~(VINTR_V_IRQ | VINTR_IGN_TPR | (0xfULL << VINTR_PRIO_SHIFT));
		}
		break;
	}
}

static u64 svm_get_cr(struct vcpu *v, int cr)
{
	struct vmcb_save *g = &vmcb_of(v)->save;
	return cr == 0 ? ((struct svm_vcpu *)v->hw)->guest_cr0 : cr == 2 ? g->cr2 : cr == 3 ? g->cr3 : g->cr4;
}

static void svm_set_cr(struct vcpu *v, int cr, u64 val)
{
	struct svm_vcpu *s = v->hw;
	struct vmcb *vm = s->vmcb;
	switch (cr) {
	case 0:
		s->guest_cr0 = val;
		vm->save.cr0 = s->fpu_trap ? val | CR0_TS : val;
		break;
	case 2: vm->save.cr2 = val; break;
	case 3: vm->save.cr3 = val; vm->ctl.tlb_control = 1; break;
	case 4: vm->save.cr4 = val; break;
	}
}

/* SVM has no CR0 read shadow: while TS is set underneath the guest, its CR0 reads (MOV
 * from CR0, SMSW) exit too, and exit.c answers them with the guest's own CR0. */
static void svm_set_fpu_trap(struct vcpu *v, bool on)
{
	struct svm_vcpu *s = v->hw;
	s->fpu_trap = on;
	s->vmcb->ctl.cr_read = on ? BIT(0) : 0;
	svm_set_intercept(v, INTERCEPT_NM, on);
	svm_set_cr(v, 0, s->guest_cr0);
}

static u64 svm_get_efer(struct vcpu *v) { return vmcb_of(v)->save.efer & ~EFER_SVME; }
static void svm_set_efer(struct vcpu *v, u64 val) { vmcb_of(v)->save.efer = val | EFER_SVME; }
static int svm_get_cpl(struct vcpu *v) { return vmcb_of(v)->save.cpl; }
/* Current after every exit: svm_entry.S does VMSAVE into the guest's VMCB. */
static u64 svm_get_fs_gs_base(struct vcpu *v, bool gs) { return gs ? vmcb_of(v)->save.gs.base : vmcb_of(v)->save.fs.base; }

static void svm_hypercall_insn(u8 insn[3])
{
	insn[0] = 0x0f, insn[1] = 0x01, insn[2] = 0xd9;	/* vmmcall */
}

static void svm_dump(struct vcpu *v)
{
	struct vmcb *vm = vmcb_of(v);
	printf("  svm: exitcode %lx exitinfo1 %lx exitinfo2 %lx exitintinfo %lx\n",
	       vm->ctl.exitcode, vm->ctl.exitinfo1, vm->ctl.exitinfo2, vm->ctl.exitintinfo);
	printf("  cs %04x/%04x ss %04x/%04x cpl %u efer %lx idtr %lx/%x gdtr %lx/%x\n",
	       vm->save.cs.sel, vm->save.cs.attr, vm->save.ss.sel, vm->save.ss.attr,
	       vm->save.cpl, vm->save.efer, vm->save.idtr.base, vm->save.idtr.limit,
	       vm->save.gdtr.base, vm->save.gdtr.limit);
}

const struct vcpu_ops svm_ops = {
	.name = "svm",
	.probe = svm_probe,
	.cpu_enable = svm_cpu_enable,
	.vcpu_create = svm_vcpu_create,
	.vcpu_destroy = svm_vcpu_destroy,
	.run = svm_run,
	.inject = svm_inject,
	.intr_allowed = svm_intr_allowed,
	.set_intercept = svm_set_intercept,
	.get_cr = svm_get_cr,
	.set_cr = svm_set_cr,
	.set_fpu_trap = svm_set_fpu_trap,
	.get_efer = svm_get_efer,
	.get_fs_gs_base = svm_get_fs_gs_base,
	.set_efer = svm_set_efer,
	.get_cpl = svm_get_cpl,
	.hypercall_insn = svm_hypercall_insn,
	.dump = svm_dump,
};
