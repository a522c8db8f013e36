/*
 * The Intel VMX (VT-x) backend of the vCPU interface (hv/vcpu.h).
 *
 * Each vCPU has a VMCS: controls saying what exits, the guest's state, and the host state a
 * VM exit loads.  Unlike SVM's VMCB it is not memory we may touch: VMREAD/VMWRITE reach only
 * the *current* VMCS of this CPU, so every operation below first makes its vCPU's VMCS current
 * (vmcs_use: VMCLEAR the old one, VMPTRLD the new one).
 *
 * The policy is the SVM backend's, intercept for intercept.  EPT is off: the guest's CR3
 * holds machine addresses and every MOV to CR3 exits (direct paging, as in Xen PV).  CR0 and
 * CR4 are owned by us bit for bit (guest/host masks all ones): the guest reads the read
 * shadows, and a write that would change any bit exits.  All I/O exits, all MSRs exit except
 * the guest's own segment bases, external interrupts and NMIs exit.
 *
 * VMX switches less than VMRUN + VMLOAD/VMSAVE do: CR2 and KERNEL_GS_BASE stay in the CPU, so
 * we switch them ourselves, and RAX is not in the VMCS (vmx_entry.S loads it with the rest).
 */
#include "hv/hv.h"
#include "hv/vmx.h"

int vmx_enter(struct cpu_regs *regs, int launched);
void vmx_call_handler(u64 handler);
extern char vmx_exit[];

struct vmx_vcpu {
	void *vmcs;		/* the 4 KiB VMCS region (revision identifier, then the CPU's) */
	u64 vmcs_pa;
	void *vapic;		/* virtual-APIC page: holds the guest's CR8 (TPR shadow) */
	bool launched;		/* VMLAUNCHed since its last VMCLEAR: VMRESUME next */
	u32 cpu_ctl;		/* the controls that change at run time, as last written */
	u32 exceptions;
	bool fpu_trap;		/* set_fpu_trap(): TS set in GUEST_CR0 but not in the read shadow */
	u64 cr2;		/* not switched by VMX: ours to keep */
	u64 kernel_gs_base;	/* not switched by VMX, and the guest writes it directly */
	u64 exit_rip;		/* RIP at the last exit; if RIP moved, that instruction is done */
	/* The last entry or exit, for decoding and dumps */
	int fail;		/* VMX_FAIL_VALID/INVALID: VMLAUNCH/VMRESUME itself failed */
	bool failed_launch;	/* ...and it was a VMLAUNCH */
	u32 insn_error;		/* VM_INSTRUCTION_ERROR after VMX_FAIL_VALID */
	u32 reason, intr_info, insn_len;
	u64 qual;
	char why[96];		/* as long as struct domain's crash_why */
};

/* A VM-execution, VM-exit or VM-entry control field and what the CPU allows in it. */
struct control {
	const char *name;
	u32 msr, true_msr;	/* capability MSR; its TRUE_* twin (0: none) */
	u32 must1;		/* allowed-0 settings: a 1 bit must be 1 (low half of the MSR) */
	u32 may1;		/* allowed-1 settings: a 0 bit must be 0 (high half) */
	u32 value;		/* what every VMCS gets */
};
#define CONTROL(n, m, t) { .name = n, .msr = m, .true_msr = t }
static struct control pin_ctl = CONTROL("pin-based", MSR_VMX_PINBASED_CTLS, MSR_VMX_TRUE_PINBASED_CTLS);
static struct control cpu_ctl = CONTROL("processor-based", MSR_VMX_PROCBASED_CTLS, MSR_VMX_TRUE_PROCBASED_CTLS);
static struct control cpu2_ctl = CONTROL("secondary processor-based", MSR_VMX_PROCBASED_CTLS2, 0);
static struct control exit_ctl = CONTROL("VM-exit", MSR_VMX_EXIT_CTLS, MSR_VMX_TRUE_EXIT_CTLS);
static struct control entry_ctl = CONTROL("VM-entry", MSR_VMX_ENTRY_CTLS, MSR_VMX_TRUE_ENTRY_CTLS);
static struct control *const controls[] = { &pin_ctl, &cpu_ctl, &cpu2_ctl, &exit_ctl, &entry_ctl };
static const enum vmcs_field control_field[] = {
	PIN_BASED_VM_EXEC_CONTROL, CPU_BASED_VM_EXEC_CONTROL, SECONDARY_VM_EXEC_CONTROL,
	VM_EXIT_CONTROLS, VM_ENTRY_CONTROLS,
};

static u64 vmx_basic, cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
static u32 preempt_ticks;	/* VMX-preemption timer value for each entry; 0: no timer */
static u8 *msr_bitmap;
static struct vcpu *loaded;	/* whose VMCS is current on this CPU (NULL: none) */
static char probe_why[96];

/* The host state every VM exit restores, taken once when VMX is switched on. */
static struct {
	u64 cr0, cr3, cr4, efer, fs_base, gs_base, tr_base, gdt_base, idt_base;
	u64 sysenter_cs, sysenter_esp, sysenter_eip;
	u16 sel[8];		/* by SEG_*; LDTR unused */
} host;

/* VM-instruction error numbers: Intel SDM vol. 3C, "VM Instruction Error Numbers". */
static const char *const insn_errors[] = {
	[1] = "VMCALL executed in VMX root operation",
	[2] = "VMCLEAR with invalid physical address",
	[3] = "VMCLEAR with VMXON pointer",
	[4] = "VMLAUNCH with non-clear VMCS",
	[5] = "VMRESUME with non-launched VMCS",
	[6] = "VMRESUME after VMXOFF",
	[7] = "VM entry with invalid control field(s)",
	[8] = "VM entry with invalid host-state field(s)",
	[9] = "VMPTRLD with invalid physical address",
	[10] = "VMPTRLD with VMXON pointer",
	[11] = "VMPTRLD with incorrect VMCS revision identifier",
	[12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
	[13] = "VMWRITE to read-only VMCS component",
	[15] = "VMXON executed in VMX root operation",
	[16] = "VM entry with invalid executive-VMCS pointer",
	[17] = "VM entry with non-launched executive VMCS",
	[18] = "VM entry with executive-VMCS pointer not VMXON pointer",
	[19] = "VMCALL with non-clear VMCS",
	[20] = "VMCALL with invalid VM-exit control fields",
	[22] = "VMCALL with incorrect MSEG revision identifier",
	[23] = "VMXOFF under dual-monitor treatment of SMIs and SMM",
	[24] = "VMCALL with invalid SMM-monitor features",
	[25] = "VM entry with invalid VM-execution control fields in executive VMCS",
	[26] = "VM entry with events blocked by MOV SS",
	[28] = "invalid operand to INVEPT/INVVPID",
};

/* Basic exit reasons (SDM vol. 3D, appendix C), for dumps and #UD reasons. */
static const char *const exit_names[VMX_EXIT_MAX + 1] = {
	[VMX_EXIT_EXCEPTION_NMI] = "exception or NMI", [VMX_EXIT_EXTERNAL_INTERRUPT] = "external interrupt",
	[VMX_EXIT_TRIPLE_FAULT] = "triple fault", [VMX_EXIT_INIT] = "INIT signal",
	[VMX_EXIT_SIPI] = "start-up IPI", [VMX_EXIT_IO_SMI] = "I/O SMI", [VMX_EXIT_OTHER_SMI] = "other SMI",
	[VMX_EXIT_INTR_WINDOW] = "interrupt window", [VMX_EXIT_NMI_WINDOW] = "NMI window",
	[VMX_EXIT_TASK_SWITCH] = "task switch", [VMX_EXIT_CPUID] = "CPUID", [VMX_EXIT_GETSEC] = "GETSEC",
	[VMX_EXIT_HLT] = "HLT", [VMX_EXIT_INVD] = "INVD", [VMX_EXIT_INVLPG] = "INVLPG",
	[VMX_EXIT_RDPMC] = "RDPMC", [VMX_EXIT_RDTSC] = "RDTSC", [VMX_EXIT_RSM] = "RSM",
	[VMX_EXIT_VMCALL] = "VMCALL", [VMX_EXIT_VMCLEAR] = "VMCLEAR", [VMX_EXIT_VMLAUNCH] = "VMLAUNCH",
	[VMX_EXIT_VMPTRLD] = "VMPTRLD", [VMX_EXIT_VMPTRST] = "VMPTRST", [VMX_EXIT_VMREAD] = "VMREAD",
	[VMX_EXIT_VMRESUME] = "VMRESUME", [VMX_EXIT_VMWRITE] = "VMWRITE", [VMX_EXIT_VMXOFF] = "VMXOFF",
	[VMX_EXIT_VMXON] = "VMXON", [VMX_EXIT_CR_ACCESS] = "control-register access",
	[VMX_EXIT_DR_ACCESS] = "debug-register access", [VMX_EXIT_IO] = "I/O instruction",
	[VMX_EXIT_MSR_READ] = "RDMSR", [VMX_EXIT_MSR_WRITE] = "WRMSR",
	[VMX_EXIT_INVALID_GUEST_STATE] = "VM-entry failure: invalid guest state",
	[VMX_EXIT_MSR_LOADING] = "VM-entry failure: MSR loading", [VMX_EXIT_MWAIT] = "MWAIT",
	[VMX_EXIT_MONITOR_TRAP_FLAG] = "monitor trap flag", [VMX_EXIT_MONITOR] = "MONITOR",
	[VMX_EXIT_PAUSE] = "PAUSE", [VMX_EXIT_MCE_DURING_ENTRY] = "VM-entry failure: machine check",
	[VMX_EXIT_TPR_BELOW_THRESHOLD] = "TPR below threshold", [VMX_EXIT_APIC_ACCESS] = "APIC access",
	[VMX_EXIT_EOI_INDUCED] = "virtualized EOI", [VMX_EXIT_GDTR_IDTR] = "GDTR/IDTR access",
	[VMX_EXIT_LDTR_TR] = "LDTR/TR access", [VMX_EXIT_EPT_VIOLATION] = "EPT violation",
	[VMX_EXIT_EPT_MISCONFIG] = "EPT misconfiguration", [VMX_EXIT_INVEPT] = "INVEPT",
	[VMX_EXIT_RDTSCP] = "RDTSCP", [VMX_EXIT_PREEMPTION_TIMER] = "VMX-preemption timer",
	[VMX_EXIT_INVVPID] = "INVVPID", [VMX_EXIT_WBINVD] = "WBINVD", [VMX_EXIT_XSETBV] = "XSETBV",
	[VMX_EXIT_APIC_WRITE] = "APIC write", [VMX_EXIT_RDRAND] = "RDRAND", [VMX_EXIT_INVPCID] = "INVPCID",
	[VMX_EXIT_VMFUNC] = "VMFUNC", [VMX_EXIT_ENCLS] = "ENCLS", [VMX_EXIT_RDSEED] = "RDSEED",
	[VMX_EXIT_PML_FULL] = "page-modification log full", [VMX_EXIT_XSAVES] = "XSAVES",
	[VMX_EXIT_XRSTORS] = "XRSTORS",
};

static const char *const seg_names[] = { "es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr" };

static const char *insn_error_name(u32 n)
{
	return n < ARRAY_SIZE(insn_errors) && insn_errors[n] ? insn_errors[n] : "unknown error number";
}

static const char *exit_name(u32 reason)
{
	u32 basic = EXIT_REASON_BASIC(reason);
	return basic <= VMX_EXIT_MAX && exit_names[basic] ? exit_names[basic] : "unknown exit reason";
}

/* ---------------------------------------------------------------------------------------
 * Reading and writing the current VMCS.  A failure here is a bug in this file, not in a
 * guest: stop with the field's encoding and the CPU's reason. */

static u32 current_insn_error(void)
{
	u64 n = 0;
	return vmread(VM_INSTRUCTION_ERROR, &n) ? 0 : (u32)n;
}

static u64 vmcs_read(enum vmcs_field f)
{
	u64 v;
	if (vmread(f, &v))
		panic("vmx: VMREAD of field %04x failed: %s", f, insn_error_name(current_insn_error()));
	return v;
}

static void vmcs_write(enum vmcs_field f, u64 v)
{
	if (vmwrite(f, v))
		panic("vmx: VMWRITE of %lx to field %04x failed: %s", v, f,
		      insn_error_name(current_insn_error()));
}

/* Make v's VMCS the current one.  The VMCS we leave is VMCLEARed, which writes the CPU's
 * cached copy back to memory and resets its launch state, so its next entry is a VMLAUNCH.
 * KERNEL_GS_BASE, which guests read and write without exits, travels with the VMCS: the
 * physical MSR always holds the value of the vCPU whose VMCS is current. */
static void vmcs_use(struct vcpu *v)
{
	if (loaded == v)
		return;
	if (loaded) {
		struct vmx_vcpu *old = loaded->hw;
		old->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
		if (vmclear(old->vmcs_pa))
			panic("vmx: VMCLEAR failed");
		old->launched = false;
	}
	struct vmx_vcpu *x = v->hw;
	if (vmptrld(x->vmcs_pa))
		panic("vmx: VMPTRLD failed: %s", insn_error_name(current_insn_error()));
	wrmsr(MSR_KERNEL_GS_BASE, x->kernel_gs_base);
	loaded = v;
}

/* ---------------------------------------------------------------------------------------
 * Capabilities. */

/* Settle a control field from its capability MSR: the bits we need, the optional bits the CPU
 * offers, and the bits it insists on.  Returns NULL, or a reason naming the missing bit.  With
 * VMX_BASIC bit 55 the TRUE_* MSRs say which default-1 bits may be cleared after all. */
static const char *settle(struct control *c, u32 need, u32 optional)
{
	bool use_true = (vmx_basic & VMX_BASIC_TRUE_CTLS) && c->true_msr;
	u64 cap = rdmsr(use_true ? c->true_msr : c->msr);
	c->must1 = (u32)cap;
	c->may1 = (u32)(cap >> 32);
	if (need & ~c->may1) {
		snprintf(probe_why, sizeof(probe_why), "VMX %s control bit %u is not supported",
			 c->name, ffs_long(need & ~c->may1));
		return probe_why;
	}
	c->value = need | (optional & c->may1) | c->must1;
	return NULL;
}

/* The controls of our policy.  Everything exits that could reach past the guest's own memory,
 * devices or CPU state; see the comment at the top and docs/ARCHITECTURE.md. */
static const char *settle_controls(void)
{
	const char *why;
	if ((why = settle(&pin_ctl, PIN_EXT_INTR_EXITING | PIN_NMI_EXITING, PIN_PREEMPTION_TIMER)) ||
	    (why = settle(&cpu_ctl, CPU_HLT_EXITING | CPU_MWAIT_EXITING | CPU_RDPMC_EXITING |
				    CPU_CR3_LOAD_EXITING | CPU_TPR_SHADOW | CPU_MOV_DR_EXITING |
				    CPU_UNCOND_IO_EXITING | CPU_USE_MSR_BITMAPS |
				    CPU_MONITOR_EXITING | CPU_SECONDARY_CONTROLS, 0)) ||
	    /* RDTSCP and INVPCID would #UD without these; under SVM they simply run. */
	    (why = settle(&cpu2_ctl, CPU2_WBINVD_EXITING, CPU2_ENABLE_RDTSCP | CPU2_ENABLE_INVPCID)) ||
	    (why = settle(&exit_ctl, EXIT_HOST_ADDR_SPACE_SIZE | EXIT_ACK_INTR_ON_EXIT |
				     EXIT_SAVE_IA32_EFER | EXIT_LOAD_IA32_EFER, 0)) ||
	    (why = settle(&entry_ctl, ENTRY_IA32E_MODE_GUEST | ENTRY_LOAD_IA32_EFER, 0)))
		return why;
	/* Exits we do not decode must stay off.  (CR8 needs no exits: with the TPR shadow it
	 * reaches the virtual-APIC page, never the real TPR.) */
	if (cpu_ctl.value & (CPU_CR8_LOAD_EXITING | CPU_CR8_STORE_EXITING | CPU_RDTSC_EXITING |
			     CPU_INVLPG_EXITING))
		return "VMX insists on CR8, INVLPG or RDTSC exiting (no TRUE controls)";
	return NULL;
}

/* Does this CPU offer VMX, and all that we need of it?  NULL if so, else why not. */
static const char *vmx_probe(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & BIT(5)))
		return "no Intel VMX (CPUID.1:ECX.VMX = 0)";
	u64 fc = rdmsr(MSR_FEATURE_CONTROL);
	if ((fc & FEATURE_CONTROL_LOCKED) && !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
		return "VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked without VMX)";
	vmx_basic = rdmsr(MSR_VMX_BASIC);
	if (VMX_BASIC_VMCS_SIZE(vmx_basic) > PAGE_SIZE)
		return "VMX wants a VMCS larger than 4 KiB";
	if (VMX_BASIC_MEMTYPE(vmx_basic) != VMX_MEMTYPE_WB)
		return "VMX wants the VMCS in memory that is not write-back";
	cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
	/* Our guests and host run with paging, protection and NE on; VMX must allow the rest. */
	if ((cr0_fixed0 | CR0_PE | CR0_NE | CR0_PG | CR0_WP) & ~cr0_fixed1)
		return "VMX forbids a CR0 bit we need";
	if ((cr4_fixed0 | CR4_VMXE | CR4_PAE) & ~cr4_fixed1)
		return "VMX forbids a CR4 bit we need";
	if (cr0_fixed0 & ~(CR0_PE | CR0_NE | CR0_PG))
		return "VMX requires CR0 bits beyond PE, NE and PG";
	return settle_controls();
}

/* ---------------------------------------------------------------------------------------
 * Switching VMX on. */

static void *zpage(void)
{
	mfn_t m = page_alloc(OWNER_XEN);
	if (m == INVALID_MFN)
		panic("vmx: out of memory");
	return mfn_to_virt(m);
}

/* Let the guest read and write MSR `msr` without an exit.  The bitmap has four 1 KiB parts:
 * reads of MSRs 0-0x1fff, reads of 0xc0000000-0xc0001fff, then the same two for writes. */
static void msr_passthrough(u32 msr)
{
	u32 base = msr < 0x2000 ? 0 : 0x400, bit = msr & 0x1fff;
	msr_bitmap[base + bit / 8] &= (u8)~(1 << (bit % 8));
	msr_bitmap[0x800 + base + bit / 8] &= (u8)~(1 << (bit % 8));
}

#define READ_SEG(s) ({ u16 sel_; __asm__ volatile("mov %%" #s ", %0" : "=r"(sel_)); sel_; })

/* The base of the TSS descriptor that selector `sel` names in the GDT at gdt. */
static u64 tss_base(u64 gdt, u16 sel)
{
	const struct sys_desc *t = (const struct sys_desc *)(gdt + (sel & ~7));
	return t->lo.base_lo | (u64)t->lo.base_hi << 24 | (u64)t->base_upper << 32;
}

/* Record the host state a VM exit must restore: ours, right now (it never changes). */
static void host_state_init(void)
{
	struct desc_ptr gdtr, idtr;
	sgdt(&gdtr);
	sidt(&idtr);
	host.cr0 = read_cr0();
	host.cr3 = read_cr3();
	host.cr4 = read_cr4();
	host.efer = rdmsr(MSR_EFER);
	host.fs_base = rdmsr(MSR_FS_BASE);
	host.gs_base = rdmsr(MSR_GS_BASE);
	host.gdt_base = gdtr.base;
	host.idt_base = idtr.base;
	host.sysenter_cs = rdmsr(MSR_IA32_SYSENTER_CS);
	host.sysenter_esp = rdmsr(MSR_IA32_SYSENTER_ESP);
	host.sysenter_eip = rdmsr(MSR_IA32_SYSENTER_EIP);
	host.sel[SEG_ES] = READ_SEG(es);
	host.sel[SEG_CS] = READ_SEG(cs);
	host.sel[SEG_SS] = READ_SEG(ss);
	host.sel[SEG_DS] = READ_SEG(ds);
	host.sel[SEG_FS] = READ_SEG(fs);
	host.sel[SEG_GS] = READ_SEG(gs);
	host.sel[SEG_TR] = str();	/* must not be 0: a VM exit loads TR */
	host.tr_base = tss_base(gdtr.base, host.sel[SEG_TR]);
}

/* Switch VMX on: the firmware lock, the fixed CR0/CR4 bits, VMXON; then the shared MSR bitmap. */
static void vmx_cpu_enable(void)
{
	u64 fc = rdmsr(MSR_FEATURE_CONTROL);
	if (!(fc & FEATURE_CONTROL_LOCKED))	/* the firmware left it to us: allow VMX, lock */
		wrmsr(MSR_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX);
	/* A boot loader may leave CR0.NE clear (GRUB does); VMXON #GPs unless CR0 and CR4
	 * obey the fixed bits, and CR4.VMXE is what makes VMXON legal at all. */
	write_cr0((read_cr0() | cr0_fixed0) & cr0_fixed1);
	write_cr4((read_cr4() | cr4_fixed0 | CR4_VMXE) & cr4_fixed1);

	u32 *vmxon_region = zpage();
	vmxon_region[0] = VMX_BASIC_REVISION(vmx_basic);
	int err = vmxon(va2pa(vmxon_region));
	if (err)
		panic("vmx: VMXON failed (%s)", err == VMX_FAIL_INVALID ? "VMfailInvalid: bad region or already on"
									: insn_error_name(current_insn_error()));

	/* Policy: every MSR exits, except the segment bases that are the guest's own. */
	msr_bitmap = zpage();
	memset(msr_bitmap, 0xff, PAGE_SIZE);
	msr_passthrough(MSR_FS_BASE);
	msr_passthrough(MSR_GS_BASE);
	msr_passthrough(MSR_KERNEL_GS_BASE);

	/* A backstop for preemption: a guest runs at most 2 ms (two host ticks) without an
	 * exit even if the host's timer interrupt cannot make it exit (see enter()).  The timer
	 * counts down at the TSC rate >> VMX_MISC[4:0]. */
	if (pin_ctl.value & PIN_PREEMPTION_TIMER)
		preempt_ticks = (u32)MIN((tsc_khz * 2) >> VMX_MISC_PREEMPT_RATE(rdmsr(MSR_VMX_MISC)),
					 0xffffffffULL);
	host_state_init();
	printf("pvlab: VMX on: VMCS revision %x, TRUE controls %s, preemption timer %s%s\n",
	       VMX_BASIC_REVISION(vmx_basic), vmx_basic & VMX_BASIC_TRUE_CTLS ? "yes" : "no",
	       preempt_ticks ? "yes" : "no",
	       cpu_ctl.value & CPU_CR3_STORE_EXITING ? ", CR3 reads exit" : "");
}

/* ---------------------------------------------------------------------------------------
 * Creating a vCPU. */

static void set_seg(int seg, u16 sel, u32 ar, u32 limit)
{
	vmcs_write(VMCS_SEG(GUEST_ES_SELECTOR, seg), sel);
	vmcs_write(VMCS_SEG(GUEST_ES_BASE, seg), 0);
	vmcs_write(VMCS_SEG(GUEST_ES_LIMIT, seg), limit);
	vmcs_write(VMCS_SEG(GUEST_ES_AR, seg), ar);
}

/* The host half of the current VMCS: where and in what state a VM exit resumes us. */
static void write_host_state(void)
{
	vmcs_write(HOST_CR0, host.cr0);
	vmcs_write(HOST_CR3, host.cr3);
	vmcs_write(HOST_CR4, host.cr4);
	vmcs_write(HOST_IA32_EFER, host.efer);
	for (int s = SEG_ES; s <= SEG_GS; s++)
		vmcs_write(VMCS_SEG(HOST_ES_SELECTOR, s), host.sel[s]);
	vmcs_write(HOST_TR_SELECTOR, host.sel[SEG_TR]);
	vmcs_write(HOST_FS_BASE, host.fs_base);
	vmcs_write(HOST_GS_BASE, host.gs_base);
	vmcs_write(HOST_TR_BASE, host.tr_base);
	vmcs_write(HOST_GDTR_BASE, host.gdt_base);
	vmcs_write(HOST_IDTR_BASE, host.idt_base);
	vmcs_write(HOST_IA32_SYSENTER_CS, host.sysenter_cs);
	vmcs_write(HOST_IA32_SYSENTER_ESP, host.sysenter_esp);
	vmcs_write(HOST_IA32_SYSENTER_EIP, host.sysenter_eip);
	vmcs_write(HOST_RIP, (u64)vmx_exit);	/* HOST_RSP: vmx_enter sets it at each entry */
}

static void vmx_set_cr(struct vcpu *v, int cr, u64 val);

/* A VMCS for v holding our controls, the host state and a 64-bit ring-0 guest with paging on
 * at CR3 = cr3 (a machine address); its RIP, RSP and RFLAGS come from v->regs at each entry. */
static int vmx_vcpu_create(struct vcpu *v, u64 cr3)
{
	struct vmx_vcpu *x = zpage();
	x->vmcs = zpage();
	x->vmcs_pa = va2pa(x->vmcs);
	x->vapic = zpage();
	*(u32 *)x->vmcs = VMX_BASIC_REVISION(vmx_basic);
	v->hw = x;
	if (vmclear(x->vmcs_pa))	/* initialize it: launch state "clear" */
		panic("vmx: VMCLEAR of a new VMCS failed");
	vmcs_use(v);

	/* What exits (see settle_controls), and the exception bitmap: #AC and #DB are reflected
	 * back, intercepted only so that an exception loop cannot hang the CPU
	 * (CVE-2015-5307/8104); #MC belongs to the host. */
	for (unsigned i = 0; i < ARRAY_SIZE(controls); i++)
		vmcs_write(control_field[i], controls[i]->value);
	x->cpu_ctl = cpu_ctl.value;
	x->exceptions = BIT(EXC_AC) | BIT(EXC_DB) | BIT(EXC_MC);
	vmcs_write(EXCEPTION_BITMAP, x->exceptions);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);	/* with bit 14 clear: no #PF exits */
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);		/* so every MOV to CR3 exits */
	vmcs_write(MSR_BITMAP, va2pa(msr_bitmap));
	vmcs_write(VIRTUAL_APIC_PAGE_ADDR, va2pa(x->vapic));
	vmcs_write(TPR_THRESHOLD, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO, 0);
	/* CR0 and CR4 are ours in every bit: the guest reads the shadows, and a write that
	 * would change a bit exits (exit.c decides). */
	vmcs_write(CR0_GUEST_HOST_MASK, ~0ULL);
	vmcs_write(CR4_GUEST_HOST_MASK, ~0ULL);
	write_host_state();

	/* A 64-bit guest in ring 0, paging on, flat segments, as in svm.c.  Access rights:
	 * CS 0xa09b = G, L, P, S, code execute/read accessed; data 0xc093 = G, D/B, P, S,
	 * read/write accessed; TR 0x8b = P, busy 64-bit TSS (base 0: the guest has none). */
	set_seg(SEG_CS, 0x08, 0xa09b, 0xffffffff);
	set_seg(SEG_SS, 0x10, 0xc093, 0xffffffff);
	set_seg(SEG_DS, 0x10, 0xc093, 0xffffffff);
	set_seg(SEG_ES, 0x10, 0xc093, 0xffffffff);
	set_seg(SEG_FS, 0, AR_UNUSABLE, 0);
	set_seg(SEG_GS, 0, AR_UNUSABLE, 0);
	set_seg(SEG_LDTR, 0, AR_UNUSABLE, 0);
	set_seg(SEG_TR, 0, 0x008b, 0x67);
	vmcs_write(GUEST_GDTR_BASE, 0);
	vmcs_write(GUEST_GDTR_LIMIT, 0);
	vmcs_write(GUEST_IDTR_BASE, 0);
	vmcs_write(GUEST_IDTR_LIMIT, 0);
	vmx_set_cr(v, 0, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG);
	vmx_set_cr(v, 4, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT);
	vmcs_write(GUEST_CR3, cr3);
	vmcs_write(GUEST_IA32_EFER, EFER_LME | EFER_LMA | EFER_NXE);
	vmcs_write(GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(GUEST_DR7, 0x400);
	vmcs_write(GUEST_SYSENTER_CS, 0);
	vmcs_write(GUEST_SYSENTER_ESP, 0);
	vmcs_write(GUEST_SYSENTER_EIP, 0);
	vmcs_write(GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(GUEST_ACTIVITY_STATE, 0);		/* active */
	vmcs_write(VMCS_LINK_POINTER, ~0ULL);		/* no shadow VMCS */
	return 0;
}

static void vmx_vcpu_destroy(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;
	if (vmclear(x->vmcs_pa))	/* the CPU must forget it before the page is reused */
		panic("vmx: VMCLEAR failed");
	if (loaded == v)
		loaded = NULL;
	page_free(va2pa(x->vapic) >> PAGE_SHIFT);
	page_free(x->vmcs_pa >> PAGE_SHIFT);
	page_free(va2pa(x) >> PAGE_SHIFT);
	v->hw = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Running. */

/* The address of the host's IDT handler for `vector`. */
static u64 host_handler(u8 vector)
{
	const struct gate_desc *g = (const struct gate_desc *)host.idt_base + vector;
	return g->off_lo | (u64)g->off_mid << 16 | (u64)g->off_hi << 32;
}

/* Is the guest in the one-instruction interrupt shadow of STI or MOV SS?  Only while it still
 * stands where it exited: once we step RIP past the exiting instruction, that is over. */
static bool in_shadow(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;
	return v->regs.rip == x->exit_rip &&
	       (vmcs_read(GUEST_INTERRUPTIBILITY) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
}

/* One VM entry and exit of v (whose VMCS is current); the outcome lands in v->hw. */
static void enter(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;
	vmcs_write(GUEST_RSP, v->regs.rsp);
	vmcs_write(GUEST_RIP, v->regs.rip);
	vmcs_write(GUEST_RFLAGS, v->regs.rflags);
	if (v->regs.rip != x->exit_rip) {	/* the exiting instruction is done: so is its shadow */
		u64 intr = vmcs_read(GUEST_INTERRUPTIBILITY);
		if (intr & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))
			vmcs_write(GUEST_INTERRUPTIBILITY,
				   intr & ~(u64)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
	}
	if (preempt_ticks)
		vmcs_write(VMX_PREEMPTION_TIMER_VALUE, preempt_ticks);
	if (read_cr2() != x->cr2)
		write_cr2(x->cr2);

	x->failed_launch = !x->launched;
	x->fail = vmx_enter(&v->regs, x->launched);
	x->cr2 = read_cr2();
	if (x->fail) {
		x->insn_error = x->fail == VMX_FAIL_VALID ? current_insn_error() : 0;
		return;
	}
	x->reason = (u32)vmcs_read(VM_EXIT_REASON);
	x->qual = vmcs_read(EXIT_QUALIFICATION);
	if (x->reason & EXIT_REASON_ENTRY_FAILED)
		return;		/* no guest state was saved, and the VMCS was not launched */
	x->launched = true;
	v->regs.rsp = vmcs_read(GUEST_RSP);
	v->regs.rip = x->exit_rip = vmcs_read(GUEST_RIP);
	v->regs.rflags = vmcs_read(GUEST_RFLAGS);
	x->intr_info = (u32)vmcs_read(VM_EXIT_INTR_INFO);
	x->insn_len = (u32)vmcs_read(VM_EXIT_INSTRUCTION_LEN);

	/* An event interrupted by the exit (say, an interrupt whose delivery hit an intercepted
	 * #AC) must be delivered again, or the guest would lose it.  Every exit clears the
	 * valid bit of the injection field, so this is the only event pending. */
	u32 idt = (u32)vmcs_read(IDT_VECTORING_INFO);
	if (idt & INTR_INFO_VALID) {
		vmcs_write(VM_ENTRY_INTR_INFO, idt & (INTR_INFO_VALID | INTR_INFO_ERROR_VALID | 0x7ff));
		if (idt & INTR_INFO_ERROR_VALID)
			vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read(IDT_VECTORING_ERROR_CODE));
		if (INTR_TYPE_IS_SOFT(INTR_INFO_TYPE(idt)))
			vmcs_write(VM_ENTRY_INSTRUCTION_LEN, x->insn_len);
	}

	/* "Acknowledge interrupt on exit": the CPU took the host's interrupt from the local APIC
	 * for us and left its vector here, so the host's IDT handler would never run on its own.
	 * Run it now, as the interrupt would have (it sends the EOI).  An NMI exit likewise. */
	u32 basic = EXIT_REASON_BASIC(x->reason);
	if (basic == VMX_EXIT_EXTERNAL_INTERRUPT && (x->intr_info & INTR_INFO_VALID))
		vmx_call_handler(host_handler((u8)INTR_INFO_VECTOR(x->intr_info)));
	else if (basic == VMX_EXIT_EXCEPTION_NMI && INTR_INFO_TYPE(x->intr_info) == INTR_TYPE_NMI)
		vmx_call_handler(host_handler(EXC_NMI));
	/* Any other host interrupt that is pending now is taken here, the usual way.  On
	 * hardware that is one that arrived during the exit; under Bochs 3.0 it is every timer
	 * tick that came while the guest had IF = 0, because Bochs decides whether interrupts
	 * are masked just before it marks itself as in the guest, so external-interrupt exiting
	 * only works once the guest has changed IF.  The preemption timer makes sure we get here. */
	irq_window();
}

/* Handle the one exit that is not the shared code's business: MOV from CR3, which exits only
 * on CPUs that cannot turn CR3-store exiting off (no TRUE controls).  True if handled. */
static bool emulate_cr_read(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;
	if (x->fail || x->reason != VMX_EXIT_CR_ACCESS || CR_QUAL_TYPE(x->qual) != CR_TYPE_MOV_FROM_CR ||
	    CR_QUAL_CR(x->qual) != 3 || x->insn_len < 1 || x->insn_len > 15)
		return false;
	v->regs.gpr[CR_QUAL_GPR(x->qual)] = vmcs_read(GUEST_CR3);
	v->regs.rip += x->insn_len;
	return true;
}

/* The #UD-worthy instructions that exit unconditionally or by our controls. */
static bool forbidden(u32 basic)
{
	switch (basic) {
	case VMX_EXIT_GETSEC: case VMX_EXIT_INVD: case VMX_EXIT_RDPMC: case VMX_EXIT_RSM:
	case VMX_EXIT_VMCLEAR: case VMX_EXIT_VMLAUNCH: case VMX_EXIT_VMPTRLD:
	case VMX_EXIT_VMPTRST: case VMX_EXIT_VMREAD: case VMX_EXIT_VMRESUME:
	case VMX_EXIT_VMWRITE: case VMX_EXIT_VMXOFF: case VMX_EXIT_VMXON: case VMX_EXIT_MWAIT:
	case VMX_EXIT_MONITOR: case VMX_EXIT_INVEPT: case VMX_EXIT_INVVPID: case VMX_EXIT_WBINVD:
	case VMX_EXIT_XSETBV: case VMX_EXIT_VMFUNC: case VMX_EXIT_ENCLS: case VMX_EXIT_TASK_SWITCH:
		return true;
	default:
		return false;
	}
}

/* Why the entry failed, in one short line (the dump explains more). */
static void entry_failure(struct vmx_vcpu *x, struct vm_exit *e)
{
	e->reason = EXIT_ENTRY_FAILED;
	e->why = x->why;
	const char *insn = x->failed_launch ? "VMLAUNCH" : "VMRESUME";
	if (x->fail == VMX_FAIL_INVALID)
		snprintf(x->why, sizeof(x->why), "%s: VMfailInvalid (no current VMCS)", insn);
	else if (x->fail == VMX_FAIL_VALID)
		snprintf(x->why, sizeof(x->why), "%s error %u: %s", insn, x->insn_error,
			 insn_error_name(x->insn_error));
	else if (EXIT_REASON_BASIC(x->reason) == VMX_EXIT_INVALID_GUEST_STATE)
		snprintf(x->why, sizeof(x->why), "invalid guest state (exit %x, qualification %lu)",
			 x->reason, x->qual);
	else
		snprintf(x->why, sizeof(x->why), "exit %x: %s", x->reason, exit_name(x->reason));
}

static void decode_exit(struct vcpu *v, struct vm_exit *e)
{
	struct vmx_vcpu *x = v->hw;
	u64 q = x->qual;
	u32 basic = EXIT_REASON_BASIC(x->reason);
	*e = (struct vm_exit){ .raw = x->fail ? x->insn_error : x->reason, .info = q };
	if (x->fail || (x->reason & EXIT_REASON_ENTRY_FAILED)) {
		entry_failure(x, e);
		return;
	}
	if (x->insn_len >= 1 && x->insn_len <= 15)	/* the CPU's word, but bounded anyway */
		e->insn_len = x->insn_len;

	switch (basic) {
	case VMX_EXIT_VMCALL: e->reason = EXIT_HYPERCALL; break;
	case VMX_EXIT_CPUID: e->reason = EXIT_CPUID; break;
	case VMX_EXIT_HLT: e->reason = EXIT_HLT; break;
	case VMX_EXIT_IO:
		e->reason = EXIT_IO;
		e->io.size = (u8)IO_QUAL_SIZE(q);
		e->io.in = q & IO_QUAL_IN;
		e->io.string = q & IO_QUAL_STRING;
		e->io.rep = q & IO_QUAL_REP;
		e->io.port = IO_QUAL_PORT(q);
		break;
	case VMX_EXIT_MSR_READ: e->reason = EXIT_MSR_READ; break;
	case VMX_EXIT_MSR_WRITE: e->reason = EXIT_MSR_WRITE; break;
	case VMX_EXIT_CR_ACCESS:
		e->reason = EXIT_CR_WRITE;
		e->cr.cr = (u8)CR_QUAL_CR(q);
		e->cr.gpr = -1;
		switch (CR_QUAL_TYPE(q)) {
		case CR_TYPE_MOV_TO_CR: e->cr.kind = CR_MOV; e->cr.gpr = (int)CR_QUAL_GPR(q); break;
		case CR_TYPE_CLTS: e->cr.kind = CR_CLTS; break;
		case CR_TYPE_LMSW: e->cr.kind = CR_LMSW; e->cr.lmsw = (int)CR_QUAL_LMSW_SRC(q); break;
		default:	/* MOV from CR8 with a TPR shadow never exits; CR3 is emulated */
			e->reason = EXIT_UNHANDLED;
			e->why = "unexpected MOV from a control register";
		}
		break;
	case VMX_EXIT_EXCEPTION_NMI:
		if (INTR_INFO_TYPE(x->intr_info) == INTR_TYPE_NMI) {
			e->reason = EXIT_INTR;	/* the host's NMI, handled in enter() */
			break;
		}
		if (INTR_INFO_TYPE(x->intr_info) == INTR_TYPE_PRIV_SOFT_EXCEPTION) {
			e->reason = EXIT_FORBIDDEN;	/* #DB from ICEBP (f1): #UD, as under SVM */
			e->why = "ICEBP";
			break;
		}
		e->reason = EXIT_EXCEPTION;
		e->exc.vector = (u8)INTR_INFO_VECTOR(x->intr_info);
		e->exc.has_err = x->intr_info & INTR_INFO_ERROR_VALID;
		e->exc.err = e->exc.has_err ? (u32)vmcs_read(VM_EXIT_INTR_ERROR_CODE) : 0;
		e->exc.cr2 = e->exc.vector == EXC_PF ? q : 0;
		break;
	case VMX_EXIT_EXTERNAL_INTERRUPT: case VMX_EXIT_PREEMPTION_TIMER: case VMX_EXIT_INIT:
	case VMX_EXIT_SIPI: case VMX_EXIT_IO_SMI: case VMX_EXIT_OTHER_SMI:
		e->reason = EXIT_INTR;
		break;
	case VMX_EXIT_INTR_WINDOW: e->reason = EXIT_INTR_WINDOW; break;
	case VMX_EXIT_TRIPLE_FAULT: e->reason = EXIT_TRIPLE_FAULT; break;
	case VMX_EXIT_DR_ACCESS:
		e->reason = EXIT_FORBIDDEN;
		e->why = "debug register access";
		break;
	default:
		if (forbidden(basic)) {
			e->reason = EXIT_FORBIDDEN;
			e->why = exit_name(basic);
		} else {
			e->reason = EXIT_UNHANDLED;
			snprintf(x->why, sizeof(x->why), "unexpected VMX exit (%s)", exit_name(basic));
			e->why = x->why;
		}
	}
}

static void vmx_run(struct vcpu *v, struct vm_exit *e)
{
	vmcs_use(v);
	enter(v);
	if (emulate_cr_read(v))
		*e = (struct vm_exit){ .reason = EXIT_NONE, .raw = VMX_EXIT_CR_ACCESS };
	else
		decode_exit(v, e);
}

/* ---------------------------------------------------------------------------------------
 * Events and the rest of the interface. */

/* Queue an event for the next entry.  Software events need the length of the instruction
 * that raises them; we use that of the last exit, which is right when the caller emulates
 * that instruction (no caller does so yet). */
static void vmx_inject(struct vcpu *v, enum event_type type, u8 vector, bool has_err, u32 err)
{
	struct vmx_vcpu *x = v->hw;
	vmcs_use(v);
	u32 info = INTR_INFO_VALID | (u32)type << INTR_INFO_TYPE_SHIFT | vector;
	if (has_err) {
		info |= INTR_INFO_ERROR_VALID;
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, err);
	}
	if (INTR_TYPE_IS_SOFT(type))
		vmcs_write(VM_ENTRY_INSTRUCTION_LEN, x->insn_len);
	vmcs_write(VM_ENTRY_INTR_INFO, info);
}

static bool vmx_intr_allowed(struct vcpu *v)
{
	vmcs_use(v);
	return (v->regs.rflags & RFLAGS_IF) && !in_shadow(v) &&
	       !(vmcs_read(VM_ENTRY_INTR_INFO) & INTR_INFO_VALID);
}

static void vmx_set_intercept(struct vcpu *v, enum intercept what, bool on)
{
	struct vmx_vcpu *x = v->hw;
	vmcs_use(v);
	switch (what) {
	case INTERCEPT_NM:
		x->exceptions = on ? x->exceptions | (u32)BIT(EXC_NM) : x->exceptions & ~(u32)BIT(EXC_NM);
		vmcs_write(EXCEPTION_BITMAP, x->exceptions);
		break;
	case INTERCEPT_INTR_WINDOW:
		/* Exit as soon as the guest can take an interrupt (IF = 1, no shadow); we then
		 * inject the real event ourselves. */
		x->cpu_ctl = on ? x->cpu_ctl | (u32)CPU_INTR_WINDOW_EXITING
				: x->cpu_ctl & ~(u32)CPU_INTR_WINDOW_EXITING;
		vmcs_write(CPU_BASED_VM_EXEC_CONTROL, x->cpu_ctl);
		break;
	}
}

/* CR0 and CR4 as the guest sees them are the read shadows; the real ones add what VMX
 * requires (CR0.NE, CR4.VMXE...). */
static u64 vmx_get_cr(struct vcpu *v, int cr)
{
	vmcs_use(v);
	switch (cr) {
	case 0: return vmcs_read(CR0_READ_SHADOW);
	case 2: return ((struct vmx_vcpu *)v->hw)->cr2;
	case 3: return vmcs_read(GUEST_CR3);
	default: return vmcs_read(CR4_READ_SHADOW);
	}
}

static void vmx_set_cr(struct vcpu *v, int cr, u64 val)
{
	vmcs_use(v);
	switch (cr) {
	case 0:
		/* The mask owns every bit, so the guest reads the shadow: TS set underneath
		 * for lazy FPU stays invisible to it. */
		vmcs_write(GUEST_CR0, ((val | (((struct vmx_vcpu *)v->hw)->fpu_trap ? CR0_TS : 0)) |
				       cr0_fixed0) & cr0_fixed1);
		vmcs_write(CR0_READ_SHADOW, val);
		break;
	case 2: ((struct vmx_vcpu *)v->hw)->cr2 = val; break;
	case 3: vmcs_write(GUEST_CR3, val); break;	/* each VM entry flushes the TLB (no VPID) */
	case 4:
		vmcs_write(GUEST_CR4, (val | cr4_fixed0) & cr4_fixed1);
		vmcs_write(CR4_READ_SHADOW, val);
		break;
	}
}

/* Lazy FPU: the guest/host mask covers CR0.TS, so the real TS may differ from the TS the
 * guest reads (the shadow); #NM exits only while the two differ. */
static void vmx_set_fpu_trap(struct vcpu *v, bool on)
{
	((struct vmx_vcpu *)v->hw)->fpu_trap = on;
	vmx_set_intercept(v, INTERCEPT_NM, on);
	vmx_set_cr(v, 0, vmx_get_cr(v, 0));
}

static u64 vmx_get_efer(struct vcpu *v) { vmcs_use(v); return vmcs_read(GUEST_IA32_EFER); }
static u64 vmx_get_fs_gs_base(struct vcpu *v, bool gs) { vmcs_use(v); return vmcs_read(gs ? GUEST_GS_BASE : GUEST_FS_BASE); }
static void vmx_set_efer(struct vcpu *v, u64 val) { vmcs_use(v); vmcs_write(GUEST_IA32_EFER, val); }
static int vmx_get_cpl(struct vcpu *v) { vmcs_use(v); return (int)AR_DPL(vmcs_read(GUEST_SS_AR)); }

static void vmx_hypercall_insn(u8 insn[3])
{
	insn[0] = 0x0f, insn[1] = 0x01, insn[2] = 0xc1;	/* vmcall */
}

/* ---------------------------------------------------------------------------------------
 * Dumps, and the diagnosis of a failed VM entry. */

/* Print one broken rule, "  vmx: <part>: <what>"; returns 1, for counting. */
static int PRINTF(2, 3) broken(const char *part, const char *fmt, ...)
{
	va_list ap;
	printf("  vmx: %s: ", part);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

/* Report each bit of a control field that breaks its capability MSR (VM-instruction error 7). */
static int check_controls(void)
{
	int bad = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(controls); i++) {
		const struct control *c = controls[i];
		u32 val = (u32)vmcs_read(control_field[i]);
		if (i == 2 && !(vmcs_read(CPU_BASED_VM_EXEC_CONTROL) & CPU_SECONDARY_CONTROLS))
			continue;
		if (c->must1 & ~val)
			bad += broken(c->name, "controls %x lack bits %x that the CPU requires "
				      "(allowed-0 settings)", val, c->must1 & ~val);
		if (val & ~c->may1)
			bad += broken(c->name, "controls %x set bits %x that the CPU does not allow "
				      "(allowed-1 settings)", val, val & ~c->may1);
	}
	return bad;
}

/* Report what breaks the host-state checks we know of (VM-instruction error 8). */
static int check_host(void)
{
	int bad = 0;
	u64 cr0 = vmcs_read(HOST_CR0), cr4 = vmcs_read(HOST_CR4);
	if ((cr0 & cr0_fixed0) != cr0_fixed0 || (cr0 & ~cr0_fixed1))
		bad += broken("host state", "CR0 %lx breaks the fixed bits (FIXED0 %lx, FIXED1 %lx)",
			      cr0, cr0_fixed0, cr0_fixed1);
	if ((cr4 & cr4_fixed0) != cr4_fixed0 || (cr4 & ~cr4_fixed1))
		bad += broken("host state", "CR4 %lx breaks the fixed bits (FIXED0 %lx, FIXED1 %lx)",
			      cr4, cr4_fixed0, cr4_fixed1);
	for (int s = SEG_ES; s <= SEG_TR; s++) {
		if (s == SEG_LDTR)
			continue;
		u64 sel = vmcs_read(s == SEG_TR ? HOST_TR_SELECTOR : VMCS_SEG(HOST_ES_SELECTOR, s));
		if (sel & 7)
			bad += broken("host state", "%s selector %lx has RPL or TI bits set", seg_names[s], sel);
		if (!sel && (s == SEG_CS || s == SEG_TR))
			bad += broken("host state", "%s selector is 0", seg_names[s]);
	}
	if (!(vmcs_read(VM_EXIT_CONTROLS) & EXIT_HOST_ADDR_SPACE_SIZE))
		bad += broken("host state", "the \"host address-space size\" exit control is 0: "
			      "a 64-bit host needs it");
	if (!IS_CANONICAL(vmcs_read(HOST_RIP)))
		bad += broken("host state", "HOST_RIP is not canonical");
	return bad;
}

/* The rules for one segment register that students break most (SDM vol. 3C, "Checks on
 * the Guest-State Area"; unrestricted guest off). */
static int check_segment(int s, bool ia32e)
{
	u32 ar = (u32)vmcs_read(VMCS_SEG(GUEST_ES_AR, s));
	u32 limit = (u32)vmcs_read(VMCS_SEG(GUEST_ES_LIMIT, s));
	u64 sel = vmcs_read(VMCS_SEG(GUEST_ES_SELECTOR, s));
	const char *n = seg_names[s];
	int bad = 0;
	if (ar & AR_UNUSABLE) {
		if (s == SEG_CS || s == SEG_TR)
			bad += broken("guest state", "%s is unusable (access rights bit 16): it must be usable", n);
		return bad;
	}
	if (!(ar & AR_P))
		bad += broken("guest state", "%s access rights %x: not present (P = 0)", n, ar);
	if ((limit & 0xfff) != 0xfff && (ar & AR_G))
		bad += broken("guest state", "%s limit %x with G = 1: the low 12 bits must be all ones", n, limit);
	if (limit > 0xfffff && !(ar & AR_G))
		bad += broken("guest state", "%s limit %x above 1 MiB needs G = 1", n, limit);
	if (ar & 0xfffe0f00)
		bad += broken("guest state", "%s access rights %x: reserved bits set", n, ar);
	switch (s) {
	case SEG_CS:
		if (!(ar & AR_S) || (AR_TYPE(ar) & 9) != 9)
			bad += broken("guest state", "cs access rights %x: type must be an accessed code segment (9, 11, 13, 15)", ar);
		if (ia32e && (ar & AR_L) && (ar & AR_DB))
			bad += broken("guest state", "cs access rights %x: L = 1 needs D/B = 0", ar);
		if (ia32e && !(ar & AR_L))
			bad += broken("guest state", "cs access rights %x: L = 0 is compatibility mode "
				      "(legal, but 64-bit code goes astray)", ar);
		if (AR_DPL(ar) != AR_DPL(vmcs_read(GUEST_SS_AR)) && (AR_TYPE(ar) == 9 || AR_TYPE(ar) == 11))
			bad += broken("guest state", "cs DPL %u differs from ss DPL", AR_DPL(ar));
		break;
	case SEG_SS:
		if (!(ar & AR_S) || (AR_TYPE(ar) != 3 && AR_TYPE(ar) != 7))
			bad += broken("guest state", "ss access rights %x: type must be 3 or 7 (read/write data, accessed)", ar);
		if (AR_DPL(ar) != (sel & 3))
			bad += broken("guest state", "ss DPL %u differs from its selector's RPL %lu", AR_DPL(ar), sel & 3);
		break;
	case SEG_TR:
		if ((ar & AR_S) || AR_TYPE(ar) != 11)
			bad += broken("guest state", "tr access rights %x: type must be 11 (busy 64-bit TSS), S = 0", ar);
		if (sel & 4)
			bad += broken("guest state", "tr selector %lx: TI must be 0", sel);
		break;
	case SEG_LDTR:
		if ((ar & AR_S) || AR_TYPE(ar) != 2)
			bad += broken("guest state", "ldtr access rights %x: type must be 2 (LDT), S = 0", ar);
		break;
	default:	/* ds, es, fs, gs */
		if (!(ar & AR_S) || !(ar & AR_ACCESSED))
			bad += broken("guest state", "%s access rights %x: must be a code/data segment (S = 1) marked accessed", n, ar);
		if ((AR_TYPE(ar) & 8) && !(AR_TYPE(ar) & 2))
			bad += broken("guest state", "%s access rights %x: a code segment here must be readable", n, ar);
	}
	if ((s == SEG_FS || s == SEG_GS || s == SEG_TR) && !IS_CANONICAL(vmcs_read(VMCS_SEG(GUEST_ES_BASE, s))))
		bad += broken("guest state", "%s base is not canonical", n);
	return bad;
}

/* Check the guest state of the current VMCS against the rules we know; print each broken one. */
static int check_guest(void)
{
	int bad = 0;
	u64 cr0 = vmcs_read(GUEST_CR0), cr4 = vmcs_read(GUEST_CR4), efer = vmcs_read(GUEST_IA32_EFER);
	u64 rflags = vmcs_read(GUEST_RFLAGS), rip = vmcs_read(GUEST_RIP);
	u32 entry = (u32)vmcs_read(VM_ENTRY_CONTROLS);
	bool ia32e = entry & ENTRY_IA32E_MODE_GUEST;
	if ((cr0 & cr0_fixed0) != cr0_fixed0)
		bad += broken("guest state", "CR0 %lx lacks bits %lx that VMX requires (CR0_FIXED0)", cr0, cr0_fixed0 & ~cr0);
	if (cr0 & ~cr0_fixed1)
		bad += broken("guest state", "CR0 %lx has bits %lx that VMX forbids (CR0_FIXED1)", cr0, cr0 & ~cr0_fixed1);
	if ((cr4 & cr4_fixed0) != cr4_fixed0)
		bad += broken("guest state", "CR4 %lx lacks bits %lx that VMX requires (CR4_FIXED0, VMXE)", cr4, cr4_fixed0 & ~cr4);
	if (cr4 & ~cr4_fixed1)
		bad += broken("guest state", "CR4 %lx has bits %lx that VMX forbids (CR4_FIXED1)", cr4, cr4 & ~cr4_fixed1);
	if (ia32e && (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE)))
		bad += broken("guest state", "\"IA-32e mode guest\" needs CR0.PG = 1 and CR4.PAE = 1");
	if ((entry & ENTRY_LOAD_IA32_EFER) && (!(efer & EFER_LMA) != !ia32e || !(efer & EFER_LME) != !ia32e))
		bad += broken("guest state", "EFER %lx: LMA and LME must equal the \"IA-32e mode "
			      "guest\" entry control (%u)", efer, ia32e);
	if (!(rflags & RFLAGS_FIXED) || (rflags & (~0x3fffffULL | BIT(15) | BIT(5) | BIT(3))))
		bad += broken("guest state", "RFLAGS %lx: bit 1 must be 1 and bits 3, 5, 15, 22-63 must be 0", rflags);
	if (rflags & RFLAGS_VM)
		bad += broken("guest state", "RFLAGS.VM must be 0 for a 64-bit guest");
	if (ia32e && !IS_CANONICAL(rip))
		bad += broken("guest state", "RIP %lx is not canonical", rip);
	for (int s = SEG_ES; s <= SEG_TR; s++)
		bad += check_segment(s, ia32e);
	if (!IS_CANONICAL(vmcs_read(GUEST_GDTR_BASE)) || !IS_CANONICAL(vmcs_read(GUEST_IDTR_BASE)))
		bad += broken("guest state", "GDTR or IDTR base is not canonical");
	if ((vmcs_read(GUEST_GDTR_LIMIT) | vmcs_read(GUEST_IDTR_LIMIT)) > 0xffff)
		bad += broken("guest state", "GDTR or IDTR limit above 0xffff");
	if (vmcs_read(GUEST_DR7) >> 32)
		bad += broken("guest state", "DR7 %lx: bits 32-63 must be 0", vmcs_read(GUEST_DR7));
	if (vmcs_read(VMCS_LINK_POINTER) != ~0ULL)
		bad += broken("guest state", "VMCS link pointer %lx: must be ~0 (no shadow VMCS)", vmcs_read(VMCS_LINK_POINTER));
	if (vmcs_read(GUEST_ACTIVITY_STATE))
		bad += broken("guest state", "activity state %lu: we only use 0 (active)", vmcs_read(GUEST_ACTIVITY_STATE));
	u64 intr = vmcs_read(GUEST_INTERRUPTIBILITY), inj = vmcs_read(VM_ENTRY_INTR_INFO);
	if (intr & ~0x1fULL)
		bad += broken("guest state", "interruptibility %lx: reserved bits set", intr);
	if ((intr & INTERRUPTIBILITY_STI) && !(rflags & RFLAGS_IF))
		bad += broken("guest state", "interruptibility: blocking by STI with RFLAGS.IF = 0");
	if ((intr & 3) == 3)
		bad += broken("guest state", "interruptibility: blocking by STI and by MOV SS at once");
	if ((inj & INTR_INFO_VALID) && INTR_INFO_TYPE(inj) == INTR_TYPE_EXT_INTR &&
	    (!(rflags & RFLAGS_IF) || (intr & 3)))
		bad += broken("guest state", "injecting an external interrupt while the guest blocks them (IF = 0 or shadow)");
	return bad;
}

/* Say what a failed VM entry means, and look for the cause. */
static void explain_entry_failure(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;
	if (x->fail == VMX_FAIL_INVALID) {
		printf("  vmx: VMfailInvalid: there was no current VMCS (VMPTRLD failed or forgotten)\n");
		return;
	}
	if (x->fail == VMX_FAIL_VALID) {
		printf("  vmx: VM-instruction error %u: %s\n", x->insn_error, insn_error_name(x->insn_error));
		int bad = x->insn_error == 7 ? check_controls() : x->insn_error == 8 ? check_host() : 1;
		if (!bad)
			printf("  vmx: no broken rule found by pvlab's checks; see the SDM vol. 3C, "
			       "\"Checks on VMX Controls and Host-State Area\" (docs/VMX.md)\n");
		return;
	}
	u32 basic = EXIT_REASON_BASIC(x->reason);
	printf("  vmx: VM entry failed with exit reason %u (%s), qualification %lu\n", basic,
	       exit_name(basic), x->qual);
	if (basic == VMX_EXIT_MSR_LOADING) {
		printf("  vmx: entry %lu of the VM-entry MSR-load area could not be loaded\n", x->qual);
	} else if (basic == VMX_EXIT_MCE_DURING_ENTRY) {
		printf("  vmx: a machine check arrived during the entry: a hardware problem, not a bug\n");
	} else if (basic == VMX_EXIT_INVALID_GUEST_STATE) {
		static const char *const qual[] = {
			[ENTRY_QUAL_NONE] = "a guest-state check failed (the CPU does not say which)",
			[1] = "(reserved)", [ENTRY_QUAL_PDPTE] = "loading the PDPTEs failed (PAE paging)",
			[ENTRY_QUAL_NMI_BLOCKED] = "NMI injection while NMIs are blocked",
			[ENTRY_QUAL_LINK] = "the VMCS link pointer is invalid",
		};
		printf("  vmx: qualification %lu: %s\n", x->qual, x->qual < ARRAY_SIZE(qual) ? qual[x->qual] : "(unknown)");
		if (!check_guest())
			printf("  vmx: no broken rule found by pvlab's checks; see the SDM vol. 3C, "
			       "\"Checks on the Guest-State Area\" (docs/VMX.md)\n");
	}
}

static void vmx_dump(struct vcpu *v)
{
	struct vmx_vcpu *x = v->hw;
	vmcs_use(v);
	if (!x->fail)
		printf("  vmx: exit reason %x (%s) qualification %lx intr-info %x idt-vectoring %lx "
		       "insn-len %u\n", x->reason, exit_name(x->reason), x->qual, x->intr_info,
		       vmcs_read(IDT_VECTORING_INFO), x->insn_len);
	printf("  cs %04lx/%05lx ss %04lx/%05lx cpl %d efer %lx idtr %lx/%lx gdtr %lx/%lx\n",
	       vmcs_read(GUEST_CS_SELECTOR), vmcs_read(GUEST_CS_AR), vmcs_read(GUEST_SS_SELECTOR),
	       vmcs_read(GUEST_SS_AR), vmx_get_cpl(v), vmcs_read(GUEST_IA32_EFER),
	       vmcs_read(GUEST_IDTR_BASE), vmcs_read(GUEST_IDTR_LIMIT), vmcs_read(GUEST_GDTR_BASE),
	       vmcs_read(GUEST_GDTR_LIMIT));
	printf("  controls: pin %lx cpu %lx cpu2 %lx exit %lx entry %lx exceptions %lx\n",
	       vmcs_read(PIN_BASED_VM_EXEC_CONTROL), vmcs_read(CPU_BASED_VM_EXEC_CONTROL),
	       vmcs_read(SECONDARY_VM_EXEC_CONTROL), vmcs_read(VM_EXIT_CONTROLS),
	       vmcs_read(VM_ENTRY_CONTROLS), vmcs_read(EXCEPTION_BITMAP));
	if (x->fail || (x->reason & EXIT_REASON_ENTRY_FAILED))
		explain_entry_failure(v);
}

const struct vcpu_ops vmx_ops = {
	.name = "vmx",
	.probe = vmx_probe,
	.cpu_enable = vmx_cpu_enable,
	.vcpu_create = vmx_vcpu_create,
	.vcpu_destroy = vmx_vcpu_destroy,
	.run = vmx_run,
	.inject = vmx_inject,
	.intr_allowed = vmx_intr_allowed,
	.set_intercept = vmx_set_intercept,
	.set_fpu_trap = vmx_set_fpu_trap,
	.get_cr = vmx_get_cr,
	.set_cr = vmx_set_cr,
	.get_efer = vmx_get_efer,
	.get_fs_gs_base = vmx_get_fs_gs_base,
	.set_efer = vmx_set_efer,
	.get_cpl = vmx_get_cpl,
	.hypercall_insn = vmx_hypercall_insn,
	.dump = vmx_dump,
};
