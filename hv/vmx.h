/*
 * Intel VMX (VT-x) definitions (Intel SDM vol. 3C, chapters 24-27 and appendices A-C),
 * declared once: capability MSRs, VMCS field encodings grouped by width and kind, control
 * bits, exit reasons, and a one-line wrapper per VMX instruction.  Only vmx.c includes it.
 */
#ifndef PVLAB_HV_VMX_H
#define PVLAB_HV_VMX_H

#include "types.h"

/* ---- Capability MSRs (appendix A) ---- */
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED_CTLS 0x481
#define MSR_VMX_PROCBASED_CTLS 0x482
#define MSR_VMX_EXIT_CTLS 0x483
#define MSR_VMX_ENTRY_CTLS 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486	/* a 1 here: CR0 bit must be 1 in VMX operation */
#define MSR_VMX_CR0_FIXED1 0x487	/* a 0 here: CR0 bit must be 0 */
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED_CTLS2 0x48b
#define MSR_VMX_TRUE_PINBASED_CTLS 0x48d	/* the TRUE_* MSRs exist if VMX_BASIC bit 55 */
#define MSR_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_VMX_TRUE_ENTRY_CTLS 0x490

/* IA32_FEATURE_CONTROL (MSR_FEATURE_CONTROL, 0x3a): the firmware's say */
#define FEATURE_CONTROL_LOCKED BIT(0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX BIT(2)

/* IA32_VMX_BASIC */
#define VMX_BASIC_REVISION(b) ((u32)(b) & 0x7fffffff)
#define VMX_BASIC_VMCS_SIZE(b) (((b) >> 32) & 0x1fff)
#define VMX_BASIC_32BIT_ADDR BIT(48)	/* VMXON/VMCS addresses limited to 4 GiB */
#define VMX_BASIC_MEMTYPE(b) (((b) >> 50) & 0xf)
#define VMX_BASIC_TRUE_CTLS BIT(55)
#define VMX_MEMTYPE_WB 6

/* IA32_VMX_MISC */
#define VMX_MISC_PREEMPT_RATE(m) ((m) & 0x1f)	/* the timer counts at TSC >> rate */

/* ---- VMCS field encodings (appendix B), grouped as the SDM groups them ----
 * bits 14:13 width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural), 11:10 kind (0 control,
 * 1 exit information, 2 guest state, 3 host state), 9:1 index. */
enum vmcs_field {
	/* 16-bit guest state */
	GUEST_ES_SELECTOR = 0x0800, GUEST_CS_SELECTOR = 0x0802, GUEST_SS_SELECTOR = 0x0804,
	GUEST_DS_SELECTOR = 0x0806, GUEST_FS_SELECTOR = 0x0808, GUEST_GS_SELECTOR = 0x080a,
	GUEST_LDTR_SELECTOR = 0x080c, GUEST_TR_SELECTOR = 0x080e,
	/* 16-bit host state */
	HOST_ES_SELECTOR = 0x0c00, HOST_CS_SELECTOR = 0x0c02, HOST_SS_SELECTOR = 0x0c04,
	HOST_DS_SELECTOR = 0x0c06, HOST_FS_SELECTOR = 0x0c08, HOST_GS_SELECTOR = 0x0c0a,
	HOST_TR_SELECTOR = 0x0c0c,
	/* 64-bit control */
	IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004,
	VM_EXIT_MSR_STORE_ADDR = 0x2006, VM_EXIT_MSR_LOAD_ADDR = 0x2008,
	VM_ENTRY_MSR_LOAD_ADDR = 0x200a, TSC_OFFSET = 0x2010, VIRTUAL_APIC_PAGE_ADDR = 0x2012,
	APIC_ACCESS_ADDR = 0x2014, EPT_POINTER = 0x201a,
	/* 64-bit exit information */
	GUEST_PHYSICAL_ADDRESS = 0x2400,
	/* 64-bit guest state */
	VMCS_LINK_POINTER = 0x2800, GUEST_IA32_DEBUGCTL = 0x2802, GUEST_IA32_PAT = 0x2804,
	GUEST_IA32_EFER = 0x2806,
	/* 64-bit host state */
	HOST_IA32_PAT = 0x2c00, HOST_IA32_EFER = 0x2c02,
	/* 32-bit control */
	PIN_BASED_VM_EXEC_CONTROL = 0x4000, CPU_BASED_VM_EXEC_CONTROL = 0x4002,
	EXCEPTION_BITMAP = 0x4004, PAGE_FAULT_ERROR_CODE_MASK = 0x4006,
	PAGE_FAULT_ERROR_CODE_MATCH = 0x4008, CR3_TARGET_COUNT = 0x400a,
	VM_EXIT_CONTROLS = 0x400c, VM_EXIT_MSR_STORE_COUNT = 0x400e,
	VM_EXIT_MSR_LOAD_COUNT = 0x4010, VM_ENTRY_CONTROLS = 0x4012,
	VM_ENTRY_MSR_LOAD_COUNT = 0x4014, VM_ENTRY_INTR_INFO = 0x4016,
	VM_ENTRY_EXCEPTION_ERROR_CODE = 0x4018, VM_ENTRY_INSTRUCTION_LEN = 0x401a,
	TPR_THRESHOLD = 0x401c, SECONDARY_VM_EXEC_CONTROL = 0x401e,
	/* 32-bit exit information */
	VM_INSTRUCTION_ERROR = 0x4400, VM_EXIT_REASON = 0x4402, VM_EXIT_INTR_INFO = 0x4404,
	VM_EXIT_INTR_ERROR_CODE = 0x4406, IDT_VECTORING_INFO = 0x4408,
	IDT_VECTORING_ERROR_CODE = 0x440a, VM_EXIT_INSTRUCTION_LEN = 0x440c,
	VMX_INSTRUCTION_INFO = 0x440e,
	/* 32-bit guest state */
	GUEST_ES_LIMIT = 0x4800, GUEST_CS_LIMIT = 0x4802, GUEST_SS_LIMIT = 0x4804,
	GUEST_DS_LIMIT = 0x4806, GUEST_FS_LIMIT = 0x4808, GUEST_GS_LIMIT = 0x480a,
	GUEST_LDTR_LIMIT = 0x480c, GUEST_TR_LIMIT = 0x480e, GUEST_GDTR_LIMIT = 0x4810,
	GUEST_IDTR_LIMIT = 0x4812, GUEST_ES_AR = 0x4814, GUEST_CS_AR = 0x4816,
	GUEST_SS_AR = 0x4818, GUEST_DS_AR = 0x481a, GUEST_FS_AR = 0x481c, GUEST_GS_AR = 0x481e,
	GUEST_LDTR_AR = 0x4820, GUEST_TR_AR = 0x4822, GUEST_INTERRUPTIBILITY = 0x4824,
	GUEST_ACTIVITY_STATE = 0x4826, GUEST_SYSENTER_CS = 0x482a,
	VMX_PREEMPTION_TIMER_VALUE = 0x482e,
	/* 32-bit host state */
	HOST_IA32_SYSENTER_CS = 0x4c00,
	/* natural-width control */
	CR0_GUEST_HOST_MASK = 0x6000, CR4_GUEST_HOST_MASK = 0x6002,
	CR0_READ_SHADOW = 0x6004, CR4_READ_SHADOW = 0x6006,
	/* natural-width exit information */
	EXIT_QUALIFICATION = 0x6400, GUEST_LINEAR_ADDRESS = 0x640a,
	/* natural-width guest state */
	GUEST_CR0 = 0x6800, GUEST_CR3 = 0x6802, GUEST_CR4 = 0x6804,
	GUEST_ES_BASE = 0x6806, GUEST_CS_BASE = 0x6808, GUEST_SS_BASE = 0x680a,
	GUEST_DS_BASE = 0x680c, GUEST_FS_BASE = 0x680e, GUEST_GS_BASE = 0x6810,
	GUEST_LDTR_BASE = 0x6812, GUEST_TR_BASE = 0x6814, GUEST_GDTR_BASE = 0x6816,
	GUEST_IDTR_BASE = 0x6818, GUEST_DR7 = 0x681a, GUEST_RSP = 0x681c, GUEST_RIP = 0x681e,
	GUEST_RFLAGS = 0x6820, GUEST_PENDING_DBG_EXCEPTIONS = 0x6822,
	GUEST_SYSENTER_ESP = 0x6824, GUEST_SYSENTER_EIP = 0x6826,
	/* natural-width host state */
	HOST_CR0 = 0x6c00, HOST_CR3 = 0x6c02, HOST_CR4 = 0x6c04, HOST_FS_BASE = 0x6c06,
	HOST_GS_BASE = 0x6c08, HOST_TR_BASE = 0x6c0a, HOST_GDTR_BASE = 0x6c0c,
	HOST_IDTR_BASE = 0x6c0e, HOST_IA32_SYSENTER_ESP = 0x6c10,
	HOST_IA32_SYSENTER_EIP = 0x6c12, HOST_RSP = 0x6c14, HOST_RIP = 0x6c16,
};
#define VMCS_FIELD_WIDTH(f) (((f) >> 13) & 3)
#define VMCS_WIDTH_16 0
#define VMCS_WIDTH_32 2
/* The segment fields of one register sit at a fixed stride from ES's (2 per register). */
#define VMCS_SEG(es_field, seg) ((es_field) + 2 * (seg))
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };
STATIC_ASSERT(VMCS_SEG(GUEST_ES_AR, SEG_TR) == GUEST_TR_AR);
STATIC_ASSERT(VMCS_SEG(GUEST_ES_BASE, SEG_TR) == GUEST_TR_BASE);
STATIC_ASSERT(VMCS_SEG(HOST_ES_SELECTOR, SEG_GS) == HOST_GS_SELECTOR);	/* no host LDTR: TR is apart */

/* Segment access rights as the VMCS holds them: the descriptor's type..P in bits 7:0,
 * AVL, L, D/B, G in bits 15:12, and "unusable" (a null selector was loaded) in bit 16. */
#define AR_TYPE(ar) ((ar) & 0xf)
#define AR_ACCESSED BIT(0)
#define AR_S BIT(4)
#define AR_DPL(ar) (((ar) >> 5) & 3)
#define AR_P BIT(7)
#define AR_L BIT(13)
#define AR_DB BIT(14)
#define AR_G BIT(15)
#define AR_UNUSABLE BIT(16)

/* ---- Pin-based VM-execution controls ---- */
#define PIN_EXT_INTR_EXITING BIT(0)
#define PIN_NMI_EXITING BIT(3)
#define PIN_VIRTUAL_NMIS BIT(5)
#define PIN_PREEMPTION_TIMER BIT(6)

/* ---- Primary processor-based VM-execution controls ---- */
#define CPU_INTR_WINDOW_EXITING BIT(2)
#define CPU_TSC_OFFSETTING BIT(3)
#define CPU_HLT_EXITING BIT(7)
#define CPU_INVLPG_EXITING BIT(9)
#define CPU_MWAIT_EXITING BIT(10)
#define CPU_RDPMC_EXITING BIT(11)
#define CPU_RDTSC_EXITING BIT(12)
#define CPU_CR3_LOAD_EXITING BIT(15)
#define CPU_CR3_STORE_EXITING BIT(16)
#define CPU_CR8_LOAD_EXITING BIT(19)
#define CPU_CR8_STORE_EXITING BIT(20)
#define CPU_TPR_SHADOW BIT(21)
#define CPU_NMI_WINDOW_EXITING BIT(22)
#define CPU_MOV_DR_EXITING BIT(23)
#define CPU_UNCOND_IO_EXITING BIT(24)
#define CPU_USE_IO_BITMAPS BIT(25)
#define CPU_MONITOR_TRAP_FLAG BIT(27)
#define CPU_USE_MSR_BITMAPS BIT(28)
#define CPU_MONITOR_EXITING BIT(29)
#define CPU_PAUSE_EXITING BIT(30)
#define CPU_SECONDARY_CONTROLS BIT(31)

/* ---- Secondary processor-based VM-execution controls ---- */
#define CPU2_VIRTUALIZE_APIC BIT(0)
#define CPU2_ENABLE_EPT BIT(1)
#define CPU2_DESC_TABLE_EXITING BIT(2)
#define CPU2_ENABLE_RDTSCP BIT(3)
#define CPU2_ENABLE_VPID BIT(5)
#define CPU2_WBINVD_EXITING BIT(6)
#define CPU2_UNRESTRICTED_GUEST BIT(7)
#define CPU2_ENABLE_INVPCID BIT(12)
#define CPU2_ENABLE_XSAVES BIT(20)

/* ---- VM-exit controls ---- */
#define EXIT_SAVE_DEBUG_CONTROLS BIT(2)
#define EXIT_HOST_ADDR_SPACE_SIZE BIT(9)	/* the host is 64-bit */
#define EXIT_LOAD_PERF_GLOBAL_CTRL BIT(12)
#define EXIT_ACK_INTR_ON_EXIT BIT(15)
#define EXIT_SAVE_IA32_PAT BIT(18)
#define EXIT_LOAD_IA32_PAT BIT(19)
#define EXIT_SAVE_IA32_EFER BIT(20)
#define EXIT_LOAD_IA32_EFER BIT(21)
#define EXIT_SAVE_PREEMPTION_TIMER BIT(22)

/* ---- VM-entry controls ---- */
#define ENTRY_LOAD_DEBUG_CONTROLS BIT(2)
#define ENTRY_IA32E_MODE_GUEST BIT(9)
#define ENTRY_LOAD_PERF_GLOBAL_CTRL BIT(13)
#define ENTRY_LOAD_IA32_PAT BIT(14)
#define ENTRY_LOAD_IA32_EFER BIT(15)

/* ---- Interruption information (VM-entry injection, VM-exit, IDT vectoring) ---- */
#define INTR_INFO_VECTOR(i) ((i) & 0xff)
#define INTR_INFO_TYPE(i) (((i) >> 8) & 7)	/* same numbers as enum event_type */
#define INTR_INFO_TYPE_SHIFT 8
#define INTR_INFO_ERROR_VALID BIT(11)
#define INTR_INFO_NMI_UNBLOCKED BIT(12)
#define INTR_INFO_VALID BIT(31)
#define INTR_TYPE_EXT_INTR 0
#define INTR_TYPE_NMI 2
#define INTR_TYPE_HW_EXCEPTION 3
#define INTR_TYPE_SOFT_INTR 4
#define INTR_TYPE_PRIV_SOFT_EXCEPTION 5
#define INTR_TYPE_SOFT_EXCEPTION 6
/* Software-generated events need an instruction length at injection. */
#define INTR_TYPE_IS_SOFT(t) ((t) >= INTR_TYPE_SOFT_INTR)

/* Guest interruptibility state */
#define INTERRUPTIBILITY_STI BIT(0)	/* the instruction after STI */
#define INTERRUPTIBILITY_MOV_SS BIT(1)	/* the instruction after MOV SS / POP SS */
#define INTERRUPTIBILITY_SMI BIT(2)
#define INTERRUPTIBILITY_NMI BIT(3)

/* ---- Exit qualifications ---- */
/* Control-register access (exit reason 28) */
#define CR_QUAL_CR(q) ((q) & 15)
#define CR_QUAL_TYPE(q) (((q) >> 4) & 3)
#define CR_QUAL_GPR(q) (((q) >> 8) & 15)
#define CR_QUAL_LMSW_SRC(q) (((q) >> 16) & 0xffff)
enum { CR_TYPE_MOV_TO_CR, CR_TYPE_MOV_FROM_CR, CR_TYPE_CLTS, CR_TYPE_LMSW };
/* I/O instruction (exit reason 30) */
#define IO_QUAL_SIZE(q) (((q) & 7) + 1)
#define IO_QUAL_IN BIT(3)
#define IO_QUAL_STRING BIT(4)
#define IO_QUAL_REP BIT(5)
#define IO_QUAL_PORT(q) ((u16)((q) >> 16))
/* Failed VM entry due to invalid guest state (exit reason 33) */
enum { ENTRY_QUAL_NONE = 0, ENTRY_QUAL_PDPTE = 2, ENTRY_QUAL_NMI_BLOCKED = 3, ENTRY_QUAL_LINK = 4 };

/* ---- Basic exit reasons (appendix C); bit 31 of the exit reason: the entry failed ---- */
#define EXIT_REASON_BASIC(r) ((r) & 0xffff)
#define EXIT_REASON_ENTRY_FAILED BIT(31)
enum vmx_exit_reason {
	VMX_EXIT_EXCEPTION_NMI = 0, VMX_EXIT_EXTERNAL_INTERRUPT = 1, VMX_EXIT_TRIPLE_FAULT = 2,
	VMX_EXIT_INIT = 3, VMX_EXIT_SIPI = 4, VMX_EXIT_IO_SMI = 5, VMX_EXIT_OTHER_SMI = 6,
	VMX_EXIT_INTR_WINDOW = 7, VMX_EXIT_NMI_WINDOW = 8, VMX_EXIT_TASK_SWITCH = 9,
	VMX_EXIT_CPUID = 10, VMX_EXIT_GETSEC = 11, VMX_EXIT_HLT = 12, VMX_EXIT_INVD = 13,
	VMX_EXIT_INVLPG = 14, VMX_EXIT_RDPMC = 15, VMX_EXIT_RDTSC = 16, VMX_EXIT_RSM = 17,
	VMX_EXIT_VMCALL = 18, VMX_EXIT_VMCLEAR = 19, VMX_EXIT_VMLAUNCH = 20,
	VMX_EXIT_VMPTRLD = 21, VMX_EXIT_VMPTRST = 22, VMX_EXIT_VMREAD = 23,
	VMX_EXIT_VMRESUME = 24, VMX_EXIT_VMWRITE = 25, VMX_EXIT_VMXOFF = 26,
	VMX_EXIT_VMXON = 27, VMX_EXIT_CR_ACCESS = 28, VMX_EXIT_DR_ACCESS = 29,
	VMX_EXIT_IO = 30, VMX_EXIT_MSR_READ = 31, VMX_EXIT_MSR_WRITE = 32,
	VMX_EXIT_INVALID_GUEST_STATE = 33, VMX_EXIT_MSR_LOADING = 34, VMX_EXIT_MWAIT = 36,
	VMX_EXIT_MONITOR_TRAP_FLAG = 37, VMX_EXIT_MONITOR = 39, VMX_EXIT_PAUSE = 40,
	VMX_EXIT_MCE_DURING_ENTRY = 41, VMX_EXIT_TPR_BELOW_THRESHOLD = 43,
	VMX_EXIT_APIC_ACCESS = 44, VMX_EXIT_EOI_INDUCED = 45, VMX_EXIT_GDTR_IDTR = 46,
	VMX_EXIT_LDTR_TR = 47, VMX_EXIT_EPT_VIOLATION = 48, VMX_EXIT_EPT_MISCONFIG = 49,
	VMX_EXIT_INVEPT = 50, VMX_EXIT_RDTSCP = 51, VMX_EXIT_PREEMPTION_TIMER = 52,
	VMX_EXIT_INVVPID = 53, VMX_EXIT_WBINVD = 54, VMX_EXIT_XSETBV = 55,
	VMX_EXIT_APIC_WRITE = 56, VMX_EXIT_RDRAND = 57, VMX_EXIT_INVPCID = 58,
	VMX_EXIT_VMFUNC = 59, VMX_EXIT_ENCLS = 60, VMX_EXIT_RDSEED = 61,
	VMX_EXIT_PML_FULL = 62, VMX_EXIT_XSAVES = 63, VMX_EXIT_XRSTORS = 64,
	VMX_EXIT_MAX = 64,
};

/* ---- The VMX instructions.  They report failure in the flags: CF = 1 is VMfailInvalid
 * (no current VMCS to hold an error number), ZF = 1 is VMfailValid (the current VMCS's
 * VM_INSTRUCTION_ERROR field says why).  Each wrapper returns 0 or one of these. ---- */
enum { VMX_OK = 0, VMX_FAIL_VALID = 1, VMX_FAIL_INVALID = 2 };
static inline int vmx_status(bool cf, bool zf) { return cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_OK; }

static inline int vmxon(u64 pa) { bool cf, zf; __asm__ volatile("vmxon %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return vmx_status(cf, zf); }
static inline int vmxoff(void) { bool cf, zf; __asm__ volatile("vmxoff" : "=@ccc"(cf), "=@ccz"(zf) :: "memory"); return vmx_status(cf, zf); }
static inline int vmclear(u64 pa) { bool cf, zf; __asm__ volatile("vmclear %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return vmx_status(cf, zf); }
static inline int vmptrld(u64 pa) { bool cf, zf; __asm__ volatile("vmptrld %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return vmx_status(cf, zf); }
static inline int vmread(u64 field, u64 *val) { bool cf, zf; __asm__ volatile("vmread %3, %2" : "=@ccc"(cf), "=@ccz"(zf), "=rm"(*val) : "r"(field) : "memory"); return vmx_status(cf, zf); }
static inline int vmwrite(u64 field, u64 val) { bool cf, zf; __asm__ volatile("vmwrite %3, %2" : "=@ccc"(cf), "=@ccz"(zf) : "r"(field), "rm"(val) : "memory"); return vmx_status(cf, zf); }
/* VMLAUNCH and VMRESUME switch every register, so they live in vmx_entry.S. */

#endif
