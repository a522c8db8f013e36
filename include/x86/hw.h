/*
 * x86-64 hardware definitions, declared once: control-register and EFER bits, MSR numbers,
 * page-table entry bits, segment and gate descriptors, the TSS.  Every structure the CPU reads
 * has a static size check so a wrong field can never go unnoticed.  (The VMCB and VMCS live
 * beside their backends in hv/svm.h and hv/vmx.h, in the same table-like style.)
 */
#ifndef PVLAB_X86_HW_H
#define PVLAB_X86_HW_H

#include "types.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define LARGE_PAGE_SIZE (1UL << 21)

/* CR0 */
#define CR0_PE BIT(0)
#define CR0_MP BIT(1)
#define CR0_EM BIT(2)
#define CR0_TS BIT(3)
#define CR0_ET BIT(4)
#define CR0_NE BIT(5)
#define CR0_WP BIT(16)
#define CR0_AM BIT(18)
#define CR0_NW BIT(29)
#define CR0_CD BIT(30)
#define CR0_PG BIT(31)
/* CR4 */
#define CR4_VME BIT(0)
#define CR4_PVI BIT(1)
#define CR4_TSD BIT(2)
#define CR4_DE BIT(3)
#define CR4_PSE BIT(4)
#define CR4_PAE BIT(5)
#define CR4_MCE BIT(6)
#define CR4_PGE BIT(7)
#define CR4_PCE BIT(8)
#define CR4_OSFXSR BIT(9)
#define CR4_OSXMMEXCPT BIT(10)
#define CR4_UMIP BIT(11)
#define CR4_VMXE BIT(13)
#define CR4_SMXE BIT(14)
#define CR4_FSGSBASE BIT(16)
#define CR4_PCIDE BIT(17)
#define CR4_OSXSAVE BIT(18)
#define CR4_SMEP BIT(20)
#define CR4_SMAP BIT(21)
/* RFLAGS */
#define RFLAGS_CF BIT(0)
#define RFLAGS_FIXED BIT(1)	/* always 1 */
#define RFLAGS_ZF BIT(6)
#define RFLAGS_TF BIT(8)
#define RFLAGS_IF BIT(9)
#define RFLAGS_IOPL BIT(12) | BIT(13)
#define RFLAGS_VM BIT(17)
#define RFLAGS_AC BIT(18)

/* MSRs */
#define MSR_APIC_BASE 0x1b
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_TSC 0x10
#define MSR_PAT 0x277
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_VM_CR 0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
/* EFER */
#define EFER_SCE BIT(0)
#define EFER_LME BIT(8)
#define EFER_LMA BIT(10)
#define EFER_NXE BIT(11)
#define EFER_SVME BIT(12)

/* Exception vectors */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
	EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
	EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};
/* Exceptions that push an error code. */
#define EXC_HAS_ERRCODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17)

/*
 * Page-table entries (all four levels share this layout; PS only in L2/L3).
 *
 *   63  62..52  51..12            11..9  8  7   6  5  4   3   2  1  0
 *   NX  avail   frame number      avail  G  PS  D  A  PCD PWT U  W  P
 */
typedef u64 pte_t;
#define PTE_P BIT(0)
#define PTE_W BIT(1)
#define PTE_U BIT(2)
#define PTE_PWT BIT(3)
#define PTE_PCD BIT(4)
#define PTE_A BIT(5)
#define PTE_D BIT(6)
#define PTE_PS BIT(7)
#define PTE_PAT BIT(7)	/* in an L1 entry */
#define PTE_G BIT(8)
#define PTE_AVAIL (BIT(9) | BIT(10) | BIT(11))
#define PTE_NX BIT(63)
#define PTE_ADDR_MASK 0x000ffffffffff000ULL
#define PTE_MFN(e) (((e) & PTE_ADDR_MASK) >> PAGE_SHIFT)
#define PT_ENTRIES 512
/* Index of va in the table at level l (1 = L1 ... 4 = L4). */
#define PT_INDEX(va, l) (((va) >> (PAGE_SHIFT + 9 * ((l) - 1))) & 511)
/* A canonical address has bits 63..47 all equal. */
#define IS_CANONICAL(va) ((u64)((s64)((u64)(va) << 16) >> 16) == (u64)(va))

/* Segment descriptor (8 bytes) as bit fields. */
struct seg_desc {
	u64 limit_lo : 16, base_lo : 24, type : 4, s : 1, dpl : 2, p : 1,
	    limit_hi : 4, avl : 1, l : 1, db : 1, g : 1, base_hi : 8;
};
STATIC_ASSERT(sizeof(struct seg_desc) == 8);

/* 64-bit system descriptor (TSS, LDT): 16 bytes. */
struct sys_desc {
	struct seg_desc lo;
	u32 base_upper, reserved;
};
STATIC_ASSERT(sizeof(struct sys_desc) == 16);
#define SEG_TYPE_TSS_AVAIL 9
#define SEG_TYPE_TSS_BUSY 11

/* 64-bit interrupt gate. */
struct gate_desc {
	u64 off_lo : 16, sel : 16, ist : 3, zero0 : 5, type : 4, zero1 : 1, dpl : 2, p : 1,
	    off_mid : 16;
	u32 off_hi, reserved;
};
STATIC_ASSERT(sizeof(struct gate_desc) == 16);
#define GATE_INTERRUPT 14
#define GATE_TRAP 15

struct desc_ptr {
	u16 limit;
	u64 base;
} PACKED;
STATIC_ASSERT(sizeof(struct desc_ptr) == 10);

/* 64-bit TSS: stacks for privilege changes and the IST stacks. */
struct tss {
	u32 reserved0;
	u64 rsp[3];
	u64 ist[8];	/* ist[0] is a reserved slot, so IST n is ist[n] (n = 1..7) */
	u64 reserved2;
	u16 reserved3, iomap_base;
} PACKED;
STATIC_ASSERT(sizeof(struct tss) == 104);

/* The FXSAVE64/FXRSTOR64 area: x87, MMX and SSE state (with CR4.OSFXSR set). */
struct fxsave_area {
	u16 fcw, fsw;
	u8 ftw, rsvd0;		/* abridged tag word: bit i set = physical register i in use */
	u16 fop;
	u64 fip, fdp;		/* last x87 instruction and operand addresses */
	u32 mxcsr, mxcsr_mask;
	u8 st[8][16];		/* ST0-ST7 (= MM0-MM7): 10 bytes each, 6 reserved */
	u8 xmm[16][16];		/* XMM0-XMM15 */
	u8 rsvd[96];
} __attribute__((aligned(16)));
STATIC_ASSERT(sizeof(struct fxsave_area) == 512);
STATIC_ASSERT(__builtin_offsetof(struct fxsave_area, mxcsr) == 24);
STATIC_ASSERT(__builtin_offsetof(struct fxsave_area, xmm) == 160);
#define FCW_RESET 0x37f		/* x87 control word after FNINIT / reset: all masked */
#define MXCSR_RESET 0x1f80	/* MXCSR after reset: all SSE exceptions masked */

#endif
