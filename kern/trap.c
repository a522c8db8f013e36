/*
 * The hypervisor's own descriptor tables and trap handling.  The host takes only two kinds of
 * interrupt: its LAPIC timer (which drives the scheduler) and exceptions, which in the host
 * are always bugs: they print a register dump and a backtrace and end the run.
 */
#include "kern/kernel.h"

enum { SEL_KCODE = 0x08, SEL_KDATA = 0x10, SEL_TSS = 0x18 };
enum { IST_DF = 1, IST_NMI = 2, IST_MC = 3 };

static struct {
	struct seg_desc null, kcode, kdata;
	struct sys_desc tss;
} __attribute__((aligned(16))) gdt;
static struct tss tss;
static struct gate_desc idt[256];
/* Each IST stack sits on its own guard page, which paging_init() unmaps. */
static struct { u8 guard[4096]; u8 stack[4096]; } ist_stacks[NR_IST_STACKS]
	__attribute__((aligned(4096)));
extern char trap_vectors[];

static const char *const exc_name[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound", "#UD invalid opcode", "#NM device not available", "#DF double fault",
	"coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
	"#SS stack fault", "#GP general protection", "#PF page fault", "reserved",
	"#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
};

static void set_gate(int vec, void *handler, int ist)
{
	u64 a = (u64)handler;
	idt[vec] = (struct gate_desc){
		.off_lo = a & 0xffff, .sel = SEL_KCODE, .ist = (u64)ist, .type = GATE_INTERRUPT,
		.dpl = 0, .p = 1, .off_mid = (a >> 16) & 0xffff, .off_hi = (u32)(a >> 32),
	};
}

/* Load the final GDT (with a TSS for the IST stacks) and the IDT. */
void trap_init(void)
{
	gdt.kcode = (struct seg_desc){ .type = 0xa, .s = 1, .p = 1, .l = 1, .g = 1, .limit_lo = 0xffff, .limit_hi = 0xf };
	gdt.kdata = (struct seg_desc){ .type = 0x2, .s = 1, .p = 1, .db = 1, .g = 1, .limit_lo = 0xffff, .limit_hi = 0xf };
	u64 t = (u64)&tss;
	gdt.tss.lo = (struct seg_desc){ .limit_lo = sizeof(tss) - 1, .base_lo = t & 0xffffff,
					.type = SEG_TYPE_TSS_AVAIL, .p = 1, .base_hi = (t >> 24) & 0xff };
	gdt.tss.base_upper = (u32)(t >> 32);
	tss.ist[IST_DF] = (u64)ist_stacks[0].stack + 4096;
	tss.ist[IST_NMI] = (u64)ist_stacks[1].stack + 4096;
	tss.ist[IST_MC] = (u64)ist_stacks[2].stack + 4096;
	tss.iomap_base = sizeof(tss);

	struct desc_ptr gp = { sizeof(gdt) - 1, (u64)&gdt };
	lgdt(&gp);
	__asm__ volatile("pushq %0; leaq 1f(%%rip), %%rax; pushq %%rax; lretq; 1:"
			 :: "i"(SEL_KCODE) : "rax", "memory");
	__asm__ volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%ss" :: "r"((u16)SEL_KDATA));
	ltr(SEL_TSS);

	for (int v = 0; v < 256; v++)
		set_gate(v, trap_vectors + 16 * v,
			 v == EXC_DF ? IST_DF : v == EXC_NMI ? IST_NMI : v == EXC_MC ? IST_MC : 0);
	struct desc_ptr ip = { sizeof(idt) - 1, (u64)idt };
	lidt(&ip);
}

void *ist_stack_guard(int i)
{
	return ist_stacks[i].guard;
}

/* Print the return addresses of the frame-pointer chain from rbp (grade/symbolize.py names
 * them); stop at the first implausible frame rather than fault. */
void dump_backtrace(u64 rbp)
{
	printf("pvlab: backtrace (addr2line -e obj/hv.elf ADDR):");
	for (int depth = 0; rbp && depth < 16; depth++) {
		if (rbp & 7 || rbp < 0x100000 || rbp >= 0x100000000ULL)
			break;	/* not a plausible frame pointer: stop rather than fault */
		u64 *frame = (u64 *)rbp;
		printf(" %lx", frame[1]);
		rbp = frame[0];
	}
	printf("\n");
}

static void dump_trapframe(const struct trapframe *tf)
{
	const char *name = tf->vector < 32 && exc_name[tf->vector] ? exc_name[tf->vector] : "interrupt";
	printf("pvlab: unexpected %s (vector %lu) in the hypervisor, error code %lx\n",
	       name, tf->vector, tf->errcode);
	printf("  rip %016lx  cs %04lx  rflags %016lx  rsp %016lx  ss %04lx\n",
	       tf->rip, tf->cs, tf->rflags, tf->rsp, tf->ss);
	printf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	printf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	printf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
	printf("  r13 %016lx  r14 %016lx  r15 %016lx\n", tf->r13, tf->r14, tf->r15);
	printf("  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx\n",
	       read_cr0(), read_cr2(), read_cr3(), read_cr4());
	/* A call through a NULL (or wild) pointer faults at its target, and rbp still is the
	 * caller's caller's frame: the caller is named only by the return address on top of
	 * the stack. */
	u64 cr2 = read_cr2();
	static const char *const stack_name[NR_IST_STACKS + 1] = { "#DF", "NMI", "#MC", "boot" };
	for (int i = 0; i <= NR_IST_STACKS; i++) {
		u64 g = (u64)(i < NR_IST_STACKS ? ist_stack_guard(i) : boot_stack_guard);
		if ((tf->vector == EXC_PF || tf->vector == EXC_DF) && cr2 - g < 4096)
			printf("  cr2 is in the guard page under the %s stack: a stack overflow\n",
			       stack_name[i]);
	}
	if (tf->vector == EXC_PF && tf->rip == cr2 && !(tf->rsp & 7) &&
	    tf->rsp >= 0x100000 && tf->rsp < 0x100000000ULL)
		printf("  called from %lx\n", *(u64 *)tf->rsp);
}

/* Called from alltraps with interrupts off. */
void trap(struct trapframe *tf)
{
	if (tf->vector == IRQ_TIMER) {
		lapic_eoi();
		hv_timer_tick();
		return;
	}
	if (tf->vector == IRQ_SPURIOUS)
		return;
	static int dumping;
	if (dumping++) {	/* a fault while dumping (a wild rsp or rbp): stop here */
		printf("pvlab: another fault (vector %lu, rip %lx) while reporting the first\n",
		       tf->vector, tf->rip);
		machine_exit(EXIT_PANIC);
	}
	dump_trapframe(tf);
	dump_backtrace(tf->rbp);
	hv_panic_dump();
	machine_exit(EXIT_PANIC);
}
