/*
 * The backend-neutral virtual CPU.  Everything in hv/ above this interface is shared by the
 * AMD SVM backend (svm.c) and the Intel VMX backend (vmx.c); neither name appears anywhere
 * else.  hv_main() picks the backend at boot from CPUID (vcpu_ops_probe()).
 *
 * Between two calls of ops->run() the vCPU's general registers, RIP, RSP and RFLAGS live in
 * struct vcpu's `regs` and are the truth: the exit handlers read and write them there, and
 * the backend copies them into and out of its hardware structure around each entry.
 * Control registers stay in the hardware structure and are reached with get_cr()/set_cr().
 */
#ifndef PVLAB_HV_VCPU_H
#define PVLAB_HV_VCPU_H

#include "kern/kernel.h"

/* In the order of the x86 register encoding, so gpr[n] is the register ModRM calls n. */
struct cpu_regs {
	union {
		struct {
			u64 rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
			u64 r8, r9, r10, r11, r12, r13, r14, r15;
		};
		u64 gpr[16];
	};
	u64 rip, rflags;
};
STATIC_ASSERT(sizeof(struct cpu_regs) == 18 * 8);

/* Why the guest stopped running, decoded by the backend. */
enum exit_reason {
	EXIT_HYPERCALL,		/* VMMCALL / VMCALL */
	EXIT_CPUID,
	EXIT_HLT,
	EXIT_IO,		/* IN/OUT to any port: see exit.io */
	EXIT_MSR_READ,		/* RDMSR of an MSR not on the pass-through list (ECX) */
	EXIT_MSR_WRITE,		/* WRMSR likewise (ECX, EDX:EAX) */
	EXIT_CR_WRITE,		/* a write to CR0, CR3 or CR4: see exit.cr */
	EXIT_CR_READ,		/* a read of CR0 while set_fpu_trap() is on (SVM only) */
	EXIT_EXCEPTION,		/* an intercepted exception: see exit.exc */
	EXIT_INTR,		/* a host interrupt arrived (already handled by the host) */
	EXIT_INTR_WINDOW,	/* the guest can now take the interrupt we asked to inject */
	EXIT_TRIPLE_FAULT,	/* guest shutdown */
	EXIT_FORBIDDEN,		/* a virtualization or cache-control instruction: #UD it */
	EXIT_ENTRY_FAILED,	/* the CPU refused to enter the guest: see exit.why */
	EXIT_UNHANDLED,		/* anything else: crashes the domain */
	EXIT_NONE,		/* the backend emulated the exit itself: nothing left to do */
};

enum cr_access { CR_MOV, CR_CLTS, CR_LMSW, CR_SMSW, CR_UNKNOWN };

struct vm_exit {
	enum exit_reason reason;
	u64 raw;		/* the vendor's exit code, for dumps */
	u64 info;		/* the vendor's qualification / EXITINFO1, for dumps */
	unsigned insn_len;	/* length of the exiting instruction; 0 = unknown (decode it) */
	const char *why;	/* EXIT_FORBIDDEN/ENTRY_FAILED/UNHANDLED: a readable name */
	union {
		struct {
			u16 port;
			u8 size;	/* 1, 2 or 4 */
			bool in, string, rep;
		} io;
		struct {
			u8 cr;		/* 0, 3 or 4 */
			enum cr_access kind;	/* CR_UNKNOWN: the backend could not decode it */
			int gpr;	/* CR_MOV: source register, or -1 if not decoded */
			int lmsw;	/* CR_LMSW: the 16-bit source, or -1 if not known */
		} cr;
		struct {
			u8 vector;
			bool has_err;
			u32 err;
			u64 cr2;	/* #PF: the faulting address */
		} exc;
	};
};

/* Events the exit handlers ask a backend to deliver at the next entry. */
enum event_type { EVENT_EXTINT = 0, EVENT_NMI = 2, EVENT_EXCEPTION = 3, EVENT_SOFTINT = 4 };

/* Intercepts that the shared code switches at run time (the rest are always on). */
enum intercept { INTERCEPT_NM, INTERCEPT_INTR_WINDOW };

struct domain;
struct vcpu;

struct vcpu_ops {
	const char *name;	/* "svm" or "vmx" */
	/* Does this CPU offer the extension?  Returns NULL if so, else a reason to print. */
	const char *(*probe)(void);
	/* Enable the extension on this physical CPU (EFER.SVME / VMXON). */
	void (*cpu_enable)(void);
	/* Allocate the hardware structure and set the state of a 64-bit guest in ring 0 with
	 * paging on at CR3 = cr3 (a machine address) and every security intercept on. */
	int (*vcpu_create)(struct vcpu *v, u64 cr3);
	void (*vcpu_destroy)(struct vcpu *v);
	/* Run the guest until the next VM exit and decode it into *e.  Exactly one exit per
	 * call, so that the scheduler sees every time the CPU comes back (sched.c). */
	void (*run)(struct vcpu *v, struct vm_exit *e);
	/* Queue an event for the next entry (error code only for exceptions that have one). */
	void (*inject)(struct vcpu *v, enum event_type type, u8 vector, bool has_err, u32 err);
	/* Would the guest accept an external interrupt now (IF set, no interrupt shadow)? */
	bool (*intr_allowed)(struct vcpu *v);
	void (*set_intercept)(struct vcpu *v, enum intercept what, bool on);
	u64 (*get_cr)(struct vcpu *v, int cr);	/* cr = 0, 2, 3, 4: the value the guest sees */
	/* Lazy FPU (lab 8): on = CR0.TS set underneath the guest and #NM exits, so that its
	 * first FPU instruction exits; the guest still reads and writes its own CR0.TS. */
	void (*set_fpu_trap)(struct vcpu *v, bool on);
	void (*set_cr)(struct vcpu *v, int cr, u64 val);
	u64 (*get_efer)(struct vcpu *v);	/* as the guest sees it (no SVME) */
	void (*set_efer)(struct vcpu *v, u64 val);
	int (*get_cpl)(struct vcpu *v);
	u64 (*get_fs_gs_base)(struct vcpu *v, bool gs);	/* the guest's FS (or GS) base */
	/* The 3-byte instruction that a hypercall-page stub uses to leave the guest. */
	void (*hypercall_insn)(u8 insn[3]);
	/* Print vendor state (control fields, segments) for a crash dump. */
	void (*dump)(struct vcpu *v);
};

extern const struct vcpu_ops *vcpu_ops;
extern const struct vcpu_ops svm_ops, vmx_ops;

enum vcpu_state { VCPU_RUNNABLE, VCPU_BLOCKED, VCPU_DOWN };

struct vcpu {
	struct domain *dom;
	int id;
	enum vcpu_state state;
	struct cpu_regs regs;
	void *hw;		/* the backend's private state (VMCB / VMCS and friends) */
	u64 exits;		/* VM exits taken, for statistics and tests */
	u64 blocks;		/* times it went to sleep in SCHEDOP_block, for tests */
	u64 timer_deadline;	/* lab 3: one-shot timer in system time (ns), 0 = off */
	u8 upcall_vector;	/* lab 3: the guest's callback vector, 0 = none yet */
	bool upcall_due;	/* lab 3: an upcall is owed (upcall_pending went 0 -> 1) */
	struct fxsave_area fpu;	/* x87/SSE registers while another vCPU has the FPU (fpu.c) */
	u64 fpu_switches;	/* lab 8: loads and saves of this vCPU's FPU state (fpu.c) */
};

#endif
