/*
 * The bare-metal substrate the hypervisor stands on: console, traps, physical frames,
 * host page tables, the local APIC timer, boot information and shutdown.  Nothing here
 * knows about virtualization; hv/ builds on it.
 */
#ifndef PVLAB_KERNEL_H
#define PVLAB_KERNEL_H

#include "lib.h"
#include "x86/hw.h"
#include "x86/asm.h"
#include "kern/frame.h"

/* ---- console.c ---- */
void console_init(void);
void console_putc(char c);
void console_write(const char *s, size_t n);
void console_write_untrusted(const char *s, size_t n);
void console_drain(void);
int printf(const char *fmt, ...) PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap);
NORETURN void panic_at(const char *file, int line, const char *fmt, ...) PRINTF(3, 4);
#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)
#define assert(c) ((c) ? (void)0 : panic("assertion failed: %s", #c))

/* ---- shutdown.c: how a run ends.  QEMU's isa-debug-exit turns code v into exit status
 * (v << 1) | 1; status 1 is QEMU's own error, so no code is 0.  See docs/ARCHITECTURE.md. */
enum exit_code {
	EXIT_SUCCESS = 1,	/* status 3: every domain shut down with SHUTDOWN_poweroff */
	EXIT_FAILURE = 2,	/* status 5: a domain crashed or shut down for another reason */
	EXIT_PANIC = 3,		/* status 7: the hypervisor itself failed */
	EXIT_CONFIG = 4,	/* status 9: bad boot command line or missing CPU feature */
};
NORETURN void machine_exit(enum exit_code code);

/* ---- boot.c: what the boot loader told us, whichever protocol it used ---- */
#define MAX_MEM_REGIONS 32
#define MAX_MODULES 8
struct mem_region {
	paddr_t base;
	u64 len;
};
struct boot_module {
	paddr_t start;
	u64 len;
	const char *cmdline;
};
struct boot_info {
	const char *protocol;		/* "pvh" or "multiboot2" */
	const char *cmdline;
	struct mem_region ram[MAX_MEM_REGIONS];
	int nr_ram;
	struct boot_module mod[MAX_MODULES];
	int nr_mod;
};
extern struct boot_info boot;
void boot_parse(u32 magic, u32 info);

/* ---- trap.c ---- */
struct trapframe {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, errcode;
	u64 rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};
#define IRQ_TIMER 0x20
#define IRQ_SPURIOUS 0xff
void trap_init(void);
void dump_backtrace(u64 rbp);
/* The unmapped page under each hypervisor stack (kern/paging.c unmaps them). */
extern char boot_stack_guard[];
enum { NR_IST_STACKS = 3 };
void *ist_stack_guard(int i);

/* ---- mm.c: zeroed pages for the hypervisor and its domains ---- */
mfn_t page_alloc(u16 owner);
void page_free(mfn_t mfn);

/* ---- paging.c: the host's own page tables, a direct map of all RAM ---- */
void paging_init(void);
/* Machine memory is identity-mapped, so a machine address is also the host's pointer. */
static inline void *pa2va(paddr_t pa) { return (void *)(uintptr_t)pa; }
static inline paddr_t va2pa(const void *va) { return (paddr_t)(uintptr_t)va; }
static inline void *mfn_to_virt(mfn_t mfn) { return pa2va(mfn << PAGE_SHIFT); }

/* ---- lapic.c: the timer that drives the scheduler, and the TSC rate ---- */
void lapic_init(void);
void lapic_timer_start(unsigned period_us);
void lapic_eoi(void);
extern u64 tsc_khz;		/* measured TSC frequency */
u64 now_ns(void);		/* ns since boot, from the TSC */
extern u64 tsc_boot;
void udelay(unsigned us);

/* ---- the hypervisor proper (hv/) ---- */
NORETURN void hv_main(const char *cmdline);
void hv_timer_tick(void);
void hv_panic_dump(void);	/* in a crash dump: what the hypervisor last did */

#endif
