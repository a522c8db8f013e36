/*
 * AMD SVM hardware structures (AMD64 APM vol. 2, appendix B), declared once with static
 * offset checks.  Only svm.c includes this file.
 */
#ifndef PVLAB_HV_SVM_H
#define PVLAB_HV_SVM_H

#include "types.h"

struct vmcb_seg {
	u16 sel, attr;		/* attr: the descriptor's type..G bits packed into 12 bits */
	u32 limit;
	u64 base;
};
STATIC_ASSERT(sizeof(struct vmcb_seg) == 16);

struct vmcb_control {
	u16 cr_read, cr_write;		/* 0x000: one bit per CR */
	u16 dr_read, dr_write;		/* 0x004 */
	u32 exceptions;			/* 0x008: one bit per vector */
	u32 intercept1;			/* 0x00c: INTCPT1_* */
	u32 intercept2;			/* 0x010: INTCPT2_* */
	u32 intercept3;			/* 0x014 */
	u8 reserved0[0x3c - 0x18];
	u16 pause_threshold;		/* 0x03c */
	u16 pause_count;		/* 0x03e */
	u64 iopm_pa;			/* 0x040: I/O permission map (12 KiB) */
	u64 msrpm_pa;			/* 0x048: MSR permission map (8 KiB) */
	u64 tsc_offset;			/* 0x050 */
	u32 asid;			/* 0x058 */
	u8 tlb_control;			/* 0x05c: 1 = flush all on this VMRUN */
	u8 reserved1[3];
	u64 vintr;			/* 0x060: V_TPR, V_IRQ, V_INTR_MASKING... */
	u64 int_state;			/* 0x068: bit 0 = interrupt shadow */
	u64 exitcode;			/* 0x070 */
	u64 exitinfo1;			/* 0x078 */
	u64 exitinfo2;			/* 0x080 */
	u64 exitintinfo;		/* 0x088: an event that was being delivered */
	u64 np_enable;			/* 0x090 */
	u64 reserved2[2];
	u64 eventinj;			/* 0x0a8: event to inject at VMRUN */
	u64 ncr3;			/* 0x0b0 */
	u64 lbr_virt;			/* 0x0b8 */
	u32 clean;			/* 0x0c0 */
	u32 reserved3;
	u64 nrip;			/* 0x0c8: next RIP, if the CPU has NRIPS */
	u8 insn_len;			/* 0x0d0: decode assists */
	u8 insn_bytes[15];
	u8 reserved4[0x400 - 0xe0];
};
STATIC_ASSERT(__builtin_offsetof(struct vmcb_control, iopm_pa) == 0x40);
STATIC_ASSERT(__builtin_offsetof(struct vmcb_control, asid) == 0x58);
STATIC_ASSERT(__builtin_offsetof(struct vmcb_control, exitcode) == 0x70);
STATIC_ASSERT(__builtin_offsetof(struct vmcb_control, eventinj) == 0xa8);
STATIC_ASSERT(__builtin_offsetof(struct vmcb_control, nrip) == 0xc8);
STATIC_ASSERT(sizeof(struct vmcb_control) == 0x400);

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr;	/* 0x400 */
	u8 reserved0[0x4cb - 0x4a0];
	u8 cpl;				/* 0x4cb */
	u32 reserved1;
	u64 efer;			/* 0x4d0 */
	u8 reserved2[0x548 - 0x4d8];
	u64 cr4, cr3, cr0, dr7, dr6, rflags, rip;	/* 0x548 */
	u8 reserved3[0x5d8 - 0x580];
	u64 rsp;			/* 0x5d8 */
	u8 reserved4[0x5f8 - 0x5e0];
	u64 rax;			/* 0x5f8 */
	u64 star, lstar, cstar, sfmask, kernel_gs_base;	/* 0x600 */
	u64 sysenter_cs, sysenter_esp, sysenter_eip;
	u64 cr2;			/* 0x640 */
	u8 reserved5[0x668 - 0x648];
	u64 g_pat;			/* 0x668 */
	u64 dbgctl;
	u8 reserved6[0x1000 - 0x678];
};

struct vmcb {
	struct vmcb_control ctl;
	struct vmcb_save save;
};
#define SAVE_OFF(f) (0x400 + __builtin_offsetof(struct vmcb_save, f))
STATIC_ASSERT(SAVE_OFF(cpl) == 0x4cb);
STATIC_ASSERT(SAVE_OFF(efer) == 0x4d0);
STATIC_ASSERT(SAVE_OFF(cr4) == 0x548);
STATIC_ASSERT(SAVE_OFF(rip) == 0x578);
STATIC_ASSERT(SAVE_OFF(rsp) == 0x5d8);
STATIC_ASSERT(SAVE_OFF(rax) == 0x5f8);
STATIC_ASSERT(SAVE_OFF(kernel_gs_base) == 0x620);
STATIC_ASSERT(SAVE_OFF(cr2) == 0x640);
STATIC_ASSERT(SAVE_OFF(g_pat) == 0x668);
STATIC_ASSERT(sizeof(struct vmcb) == 4096);

/* intercept1 (offset 0x00c) */
#define INTCPT1_INTR BIT(0)
#define INTCPT1_NMI BIT(1)
#define INTCPT1_SMI BIT(2)
#define INTCPT1_INIT BIT(3)
#define INTCPT1_VINTR BIT(4)
#define INTCPT1_RDPMC BIT(15)
#define INTCPT1_CPUID BIT(18)
#define INTCPT1_RSM BIT(19)
#define INTCPT1_INVD BIT(22)
#define INTCPT1_HLT BIT(24)
#define INTCPT1_INVLPGA BIT(26)
#define INTCPT1_IOIO BIT(27)
#define INTCPT1_MSR BIT(28)
#define INTCPT1_TASK_SWITCH BIT(29)
#define INTCPT1_FERR_FREEZE BIT(30)
#define INTCPT1_SHUTDOWN BIT(31)
/* intercept2 (offset 0x010) */
#define INTCPT2_VMRUN BIT(0)
#define INTCPT2_VMMCALL BIT(1)
#define INTCPT2_VMLOAD BIT(2)
#define INTCPT2_VMSAVE BIT(3)
#define INTCPT2_STGI BIT(4)
#define INTCPT2_CLGI BIT(5)
#define INTCPT2_SKINIT BIT(6)
#define INTCPT2_ICEBP BIT(8)
#define INTCPT2_WBINVD BIT(9)
#define INTCPT2_MONITOR BIT(10)
#define INTCPT2_MWAIT BIT(11)
#define INTCPT2_MWAIT_COND BIT(12)
#define INTCPT2_XSETBV BIT(13)

/* vintr (offset 0x060) */
#define VINTR_V_IRQ BIT(8)
#define VINTR_PRIO_SHIFT 16
#define VINTR_IGN_TPR BIT(20)
#define VINTR_MASKING BIT(24)

/* EVENTINJ and EXITINTINFO */
#define EVENTINJ_VALID BIT(31)
#define EVENTINJ_EV BIT(11)		/* error code valid */
#define EVENTINJ_TYPE_SHIFT 8

/* Exit codes */
enum {
	SVM_EXIT_CR0_READ = 0x00, SVM_EXIT_CR0_WRITE = 0x10, SVM_EXIT_CR15_WRITE = 0x1f,
	SVM_EXIT_DR0_READ = 0x20, SVM_EXIT_DR15_WRITE = 0x3f,
	SVM_EXIT_EXCP_BASE = 0x40, SVM_EXIT_EXCP_LAST = 0x5f,
	SVM_EXIT_INTR = 0x60, SVM_EXIT_NMI = 0x61, SVM_EXIT_SMI = 0x62, SVM_EXIT_INIT = 0x63,
	SVM_EXIT_VINTR = 0x64, SVM_EXIT_RDPMC = 0x6f, SVM_EXIT_CPUID = 0x72, SVM_EXIT_RSM = 0x73,
	SVM_EXIT_INVD = 0x76, SVM_EXIT_HLT = 0x78, SVM_EXIT_INVLPGA = 0x7a, SVM_EXIT_IOIO = 0x7b,
	SVM_EXIT_MSR = 0x7c, SVM_EXIT_TASK_SWITCH = 0x7d, SVM_EXIT_FERR_FREEZE = 0x7e,
	SVM_EXIT_SHUTDOWN = 0x7f, SVM_EXIT_VMRUN = 0x80, SVM_EXIT_VMMCALL = 0x81,
	SVM_EXIT_VMLOAD = 0x82, SVM_EXIT_VMSAVE = 0x83, SVM_EXIT_STGI = 0x84,
	SVM_EXIT_CLGI = 0x85, SVM_EXIT_SKINIT = 0x86, SVM_EXIT_ICEBP = 0x88,
	SVM_EXIT_WBINVD = 0x89, SVM_EXIT_MONITOR = 0x8a, SVM_EXIT_MWAIT = 0x8b,
	SVM_EXIT_MWAIT_COND = 0x8c, SVM_EXIT_XSETBV = 0x8d,
	SVM_EXIT_INVALID = -1,
};

#endif
