/*
 * The guest's own descriptor tables and exception handling.  Under pvlab a guest kernel runs
 * in (virtualized) ring 0 and owns its GDT and IDT.  Faults that a test provokes on purpose
 * are resumed through the exception table; any other fault prints a dump and crashes the
 * domain -- only this domain.
 */
#include "guest/kernel.h"

struct gtrapframe {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, errcode, rip, cs, rflags, rsp, ss;
};

enum { GSEL_KCODE = 0x08, GSEL_KDATA = 0x10, GSEL_UDATA = 0x18 | 3, GSEL_UCODE = 0x20 | 3,
       GSEL_TSS = 0x28 };
#define USER_RETURN_VECTOR 0x80	/* ring 3 gets back to the kernel with int $0x80 */

static struct {
	struct seg_desc null, kcode, kdata, udata, ucode;
	struct sys_desc tss;
} __attribute__((aligned(16))) gdt;
static struct tss tss;
static struct gate_desc idt[256];
static u8 kstack[8192] __attribute__((aligned(16)));
extern char guest_vectors[];
extern char __extable_start[], __extable_end[];
volatile struct fault last_fault = { -1, 0, 0 };

static void set_gate(int v, int dpl)
{
	u64 a = (u64)(guest_vectors + 16 * v);
	idt[v] = (struct gate_desc){ .off_lo = a & 0xffff, .sel = GSEL_KCODE, .type = GATE_INTERRUPT,
				     .dpl = (u64)dpl, .p = 1, .off_mid = (a >> 16) & 0xffff,
				     .off_hi = (u32)(a >> 32) };
}

void trap_init(void)
{
	gdt.kcode = (struct seg_desc){ .type = 0xa, .s = 1, .p = 1, .l = 1, .g = 1, .limit_lo = 0xffff, .limit_hi = 0xf };
	gdt.kdata = (struct seg_desc){ .type = 0x2, .s = 1, .p = 1, .db = 1, .g = 1, .limit_lo = 0xffff, .limit_hi = 0xf };
	gdt.udata = gdt.kdata;
	gdt.udata.dpl = 3;
	gdt.ucode = gdt.kcode;
	gdt.ucode.dpl = 3;
	u64 t = (u64)&tss;
	gdt.tss.lo = (struct seg_desc){ .limit_lo = sizeof(tss) - 1, .base_lo = t & 0xffffff,
					.type = SEG_TYPE_TSS_AVAIL, .p = 1, .base_hi = (t >> 24) & 0xff };
	gdt.tss.base_upper = (u32)(t >> 32);
	tss.rsp[0] = (u64)kstack + sizeof(kstack);
	tss.iomap_base = sizeof(tss);
	struct desc_ptr gp = { sizeof(gdt) - 1, (u64)&gdt };
	lgdt(&gp);
	__asm__ volatile("pushq %0; leaq 1f(%%rip), %%rax; pushq %%rax; lretq; 1:"
			 :: "i"(GSEL_KCODE) : "rax", "memory");
	__asm__ volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%ss" :: "r"((u16)GSEL_KDATA));
	ltr(GSEL_TSS);
	for (int v = 0; v < 256; v++)
		set_gate(v, v == USER_RETURN_VECTOR ? 3 : 0);
	struct desc_ptr ip = { sizeof(idt) - 1, (u64)idt };
	lidt(&ip);
}

/* Ring-3 support: the kernel's saved stack and the user function's result. */
static u64 user_saved_rsp;
static long user_result;
static u8 user_stack[4096] __attribute__((aligned(16)));

/* Where to resume after a fault at rip, if the code there expects one; else 0. */
static u64 extable_fixup(u64 rip)
{
	for (u64 *e = (u64 *)__extable_start; e < (u64 *)__extable_end; e += 2)
		if (e[0] == rip)
			return e[1];
	return 0;
}

u64 (*single_step_hook)(u64 rflags);

void guest_trap(struct gtrapframe *tf)
{
	if (tf->vector == USER_RETURN_VECTOR && (tf->cs & 3) == 3) {
		/* int $0x80 from ring 3: the user function is done (its result in RAX). */
		user_result = (long)tf->rax;
		__asm__ volatile("mov %0, %%rsp; ret" :: "r"(user_saved_rsp));
	}
	if (tf->vector == UPCALL_VECTOR) {
		evtchn_upcall();
		return;
	}
	if (tf->vector == EXC_DB && single_step_hook) {
		tf->rflags = single_step_hook(tf->rflags);
		return;
	}
	u64 fix = extable_fixup(tf->rip);
	if (fix && tf->vector < 32) {
		last_fault.vector = (int)tf->vector;
		last_fault.err = tf->errcode;
		last_fault.cr2 = tf->vector == EXC_PF ? read_cr2() : 0;
		tf->rip = fix;
		return;
	}
	if (tf->vector == EXC_NM && fpu_nm_trap())
		return;	/* lab 8: the first FPU instruction since a thread switch */
	printf("guest: unexpected exception %lu at rip %lx (error code %lx, cr2 %lx)\n",
	       tf->vector, tf->rip, tf->errcode, tf->vector == EXC_PF ? read_cr2() : 0);
	printf("guest: rax %lx rbx %lx rcx %lx rdx %lx rsp %lx\n", tf->rax, tf->rbx, tf->rcx,
	       tf->rdx, tf->rsp);
	guest_exit(SHUTDOWN_crash);
}

/* Trampoline: runs on the user stack in ring 3, calls fn(arg), returns via int $0x80. */
static void __attribute__((noreturn, used)) user_trampoline(long (*fn)(void *), void *arg)
{
	long r = fn(arg);
	__asm__ volatile("int $0x80" :: "a"(r));
	__builtin_unreachable();
}

long run_in_user_mode(long (*user_fn)(void *), void *arg)
{
	u64 ustack = (u64)user_stack + sizeof(user_stack), entry = (u64)user_trampoline;
	/* Push the resume address, remember the kernel stack, and IRET to ring 3.  (The
	 * builder maps guest memory user-accessible, as Xen does for 64-bit PV guests.) */
	__asm__ volatile(
		"push %%rbp\n\t"
		"lea 1f(%%rip), %%rax\n\t"
		"push %%rax\n\t"
		"mov %%rsp, %[saved]\n\t"
		"pushq %[uds]\n\t"
		"pushq %%rdx\n\t"
		"pushq $0x202\n\t"
		"pushq %[ucs]\n\t"
		"pushq %%rcx\n\t"
		"iretq\n"
		"1:\n\t"
		"pop %%rbp"
		: [saved] "=m"(user_saved_rsp), "+d"(ustack), "+c"(entry), "+D"(user_fn), "+S"(arg)
		: [uds] "i"(GSEL_UDATA), [ucs] "i"(GSEL_UCODE)
		: "rax", "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory");
	return user_result;
}
