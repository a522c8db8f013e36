/*
 * Hostile guests against the CPU state the hypervisor shares between domains (issue 11):
 * FPU/SSE registers.  Each test fills what it can with a pattern of its own (seed=N on the
 * command line, different per domain) and checks, across many switches, that it sees only
 * its own values -- and, when it first runs, only the architectural reset values.
 */
#include "guest/test.h"

#define FPU_ROUNDS 200		/* yields, each a chance for another domain to run */

static struct fxsave_area pattern, now;
static u32 crash_marker = 7;	/* fpu-crash's last x87 operand: its address must not leak */

static unsigned seed(void)
{
	const char *s = test_option("seed");
	u64 n;
	return s && !parse_size(s, &n) ? (unsigned)n : 1;
}

static u64 xmm7_low(void)
{
	u64 v;
	__asm__ volatile("movq %%xmm7, %0" : "=r"(v));
	return v;
}

/* The state a vCPU must start with: nothing of any domain that ran before. */
static void check_reset_state(void)
{
	struct fxsave_area reset;
	memset(&reset, 0, sizeof(reset));
	reset.fcw = FCW_RESET;
	reset.mxcsr = MXCSR_RESET;
	fxsave(&now);
	const char *d = fxsave_diff(&now, &reset);
	check(!d, "my first FPU/SSE state is the reset state%s%s (FCW %x, MXCSR %x, XMM7 %lx)",
	      d ? ", but not in " : "", d ? d : "", now.fcw, now.mxcsr, xmm7_low());
	check(now.fdp != (u64)&crash_marker, "the x87 operand pointer is not another domain's");
}

static void fill(unsigned n)
{
	fxsave_pattern(&pattern, n);
	fxrstor(&pattern);
}

TEST(test_fpu_mine, "fpu-mine", "my FPU/SSE registers start at reset and stay mine across switches")
{
	check_reset_state();
	fill(seed());
	fxsave(&now);
	const char *d = fxsave_diff(&now, &pattern);
	if (!check(!d, "the CPU holds my pattern after FXRSTOR%s%s", d ? ", but not " : "", d ? d : ""))
		return;
	u64 x7;
	memcpy(&x7, pattern.xmm[7], 8);
	int round;
	for (round = 0; round < FPU_ROUNDS; round++) {
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		fxsave(&now);
		if ((d = fxsave_diff(&now, &pattern)) || xmm7_low() != x7)
			break;
	}
	check(round == FPU_ROUNDS, "my FPU/SSE registers survived %d yields bit for bit%s%s",
	      round, d ? "; changed: " : "", d ? d : "");
}

/* Leave an unmasked x87 exception pending (a waiting FP instruction would raise #MF) and
 * MXCSR with every exception unmasked while the hypervisor saves and loads the state: it
 * must not take the fault itself, and the pending state must come back as it was. */
TEST(test_fpu_pending, "fpu-pending", "switch FPU state with an x87 exception pending")
{
	static const u16 unmasked = 0x0340;	/* all six x87 exceptions unmasked */
	u32 mxcsr = 0x0000;			/* all SSE exceptions unmasked */
	__asm__ volatile("fninit; fldcw %0; fld1; fldz; fdivrp %%st(1)" ::"m"(unmasked));
	__asm__ volatile("ldmxcsr %0" ::"m"(mxcsr));
	fxsave(&pattern);
	if (!check(pattern.fsw & 0x84, "a zero-divide is pending (FSW %x)", pattern.fsw))
		return;
	int round;
	const char *d = NULL;
	for (round = 0; round < FPU_ROUNDS; round++) {
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		fxsave(&now);
		if ((d = fxsave_diff(&now, &pattern)))
			break;
	}
	check(round == FPU_ROUNDS, "the pending exception survived %d yields%s%s", round,
	      d ? "; changed: " : "", d ? d : "");
	__asm__ volatile("fnclex; fninit");
	mxcsr = MXCSR_RESET;
	__asm__ volatile("ldmxcsr %0" ::"m"(mxcsr));
}

TEST(test_fpu_crash, "fpu-crash", "fill the FPU/SSE registers, then crash with them loaded")
{
	fill(seed());
	__asm__ volatile("fildl %0; fstp %%st(0)" ::"m"(crash_marker));	/* FDP = &crash_marker */
	struct desc_ptr none = { 0, 0 };
	printf("FPU/SSE registers filled: this domain should now crash\n");
	lidt(&none);
	__asm__ volatile("ud2");
	check(false, "still running after a triple fault");
}

/* Run raw instruction bytes with RAX, RBX, RCX and R8 as given; the vector it faulted with,
 * or -1. */
#define CR_BYTES(insn, a, b, c, r8_)                                                  \
	({                                                                            \
		register u64 r8v __asm__("r8") = (u64)(r8_);                          \
		fault_reset();                                                        \
		__asm__ volatile("1: " insn "\n2:\n" EXTABLE(1b, 2b)                  \
				 ::"a"((u64)(a)), "b"((u64)(b)), "c"((u64)(c)), "r"(r8v) : "memory"); \
		last_fault.vector;                                                    \
	})

u16 hostile_cpu_lmsw_word;	/* LMSW's RIP-relative source */

/* The instruction ran, set CR0.TS and changed nothing else; then clear TS again. */
static void check_ts_set(int vector, u64 cr0, const char *what)
{
	u64 now = read_cr0();
	check(vector == -1 && now == (cr0 | CR0_TS), "%s: no fault (got %d), CR0 %lx -> %lx", what,
	      vector, cr0, now);
	clts();
}

TEST(test_cr_decode, "cr-decode", "MOV CR with prefixes, REX and ignored mod bits, LMSW in every form: run or fault as on hardware")
{
	u64 cr0 = read_cr0() & ~CR0_TS, cr3 = read_cr3(), cr4 = read_cr4();
	u64 ts = cr0 | CR0_TS, bad = cr0 | CR0_CD;
	clts();
	check_ts_set(CR_BYTES(".byte 0x66, 0x0f, 0x22, 0xc0", ts, 0, 0, 0), cr0, "66 mov %rax,%cr0");
	check_ts_set(CR_BYTES(".byte 0x41, 0x0f, 0x22, 0xc0", bad, 0, 0, ts), cr0, "REX.B: mov %r8,%cr0");
	check_ts_set(CR_BYTES(".byte 0x41, 0x66, 0x0f, 0x22, 0xc0", ts, 0, 0, bad), cr0,
		     "REX before a legacy prefix is void: mov %rax,%cr0");
	check_ts_set(CR_BYTES(".byte 0x2e, 0x3e, 0xf3, 0x66, 0x67, 0x48, 0x0f, 0x22, 0xc0", ts, 0, 0, 0), cr0,
		     "six prefixes and REX.W");
	check_ts_set(CR_BYTES(".byte 0x0f, 0x22, 0x00", ts, 0, 0, 0), cr0, "mod 00 is ignored: mov %rax,%cr0");
	check_ts_set(CR_BYTES(".byte 0x0f, 0x22, 0x43", bad, ts, 0, 0), cr0, "mod 01 is ignored: mov %rbx,%cr0");
	check_eq(CR_BYTES(".byte 0x66, 0x0f, 0x22, 0xc0", cr0 & ~CR0_PG, 0, 0, 0), EXC_GP,
		 "66 mov %rax,%cr0 clearing PG: #GP");
	check_eq(CR_BYTES(".byte 0x66, 0x0f, 0x22, 0xe0", cr4, 0, 0, 0), -1, "66 mov %rax,%cr4 (same value) runs");
	check_eq(CR_BYTES(".byte 0x66, 0x0f, 0x22, 0xe0", cr4 | CR4_VMXE, 0, 0, 0), EXC_GP,
		 "66 mov %rax,%cr4 setting VMXE: #GP");
	check_eq(CR_BYTES(".byte 0x66, 0x0f, 0x22, 0xd8", cr3, 0, 0, 0), -1, "66 mov %rax,%cr3 (own root) runs");
	check_eq(CR_BYTES(".byte 0xf0, 0x0f, 0x22, 0xc0", ts, 0, 0, 0), EXC_UD, "lock mov %rax,%cr0: #UD");

	u16 word = (u16)ts;
	check_ts_set(CR_BYTES("lmsw %%ax", ts, 0, 0, 0), cr0, "lmsw %ax");
	check_ts_set(CR_BYTES(".byte 0x41, 0x0f, 0x01, 0xf0", bad, 0, 0, ts), cr0, "lmsw %r8w");
	check_eq(CR_BYTES("lmsw %%ax", cr0 & ~(u64)CR0_PE, 0, 0, 0), -1, "lmsw clearing PE runs");
	check(read_cr0() == cr0, "... and leaves PE set (CR0 %lx)", read_cr0());
	check_ts_set(CR_BYTES("lmsw (%%rbx)", 0, &word, 0, 0), cr0, "lmsw (%rbx)");
	check_ts_set(CR_BYTES("lmsw 2(%%rbx,%%rcx,2)", 0, (u64)&word - 8, 3, 0), cr0, "lmsw 2(%rbx,%rcx,2)");
	u64 quad = ts;	/* 8-byte aligned, so that an index times 8 can name it */
	check_ts_set(CR_BYTES("lmsw -8(,%%rcx,8)", 0, 0, ((u64)&quad + 8) / 8, 0), cr0, "lmsw -8(,%rcx,8)");
	hostile_cpu_lmsw_word = (u16)ts;
	check_ts_set(CR_BYTES("lmsw hostile_cpu_lmsw_word(%%rip)", 0, 0, 0, 0), cr0, "lmsw rip-relative");
	check_ts_set(CR_BYTES(".byte 0x66, 0x67, 0x0f, 0x01, 0x33", 0, (u64)&word | 1ULL << 32, 0, 0), cr0,
		     "67 lmsw (%ebx): 32-bit address");
	u64 fs = rdmsr(MSR_FS_BASE);
	wrmsr(MSR_FS_BASE, (u64)&word - 0x10);
	check_ts_set(CR_BYTES(".byte 0x64, 0x0f, 0x01, 0x73, 0x10", 0, 0, 0, 0), cr0, "lmsw %fs:0x10(%rbx)");
	wrmsr(MSR_FS_BASE, fs);
	u64 hole = virt_base + start_info->nr_pages * PAGE_SIZE + PAGE_SIZE;
	check_eq(CR_BYTES("lmsw (%%rbx)", 0, hole, 0, 0), EXC_PF, "lmsw from unmapped memory: #PF");
	check_eq(CR_BYTES("lmsw (%%rbx)", 0, 0x8000000000000000ULL, 0, 0), EXC_GP,
		 "lmsw from a non-canonical address: #GP");
	check(read_cr0() == cr0 && read_cr3() == cr3 && read_cr4() == cr4, "the control registers are as before");
}

static volatile u64 timer_events;

static void on_timer(unsigned port UNUSED)
{
	timer_events++;
}

/* Wait (at most 1 s of system time, far more than "at once") for one more timer event. */
static bool timer_fired(u64 before)
{
	for (u64 end = get_system_time() + 1000000000ULL; timer_events == before && get_system_time() < end;)
		pause();
	return timer_events != before;
}

TEST(test_timer_signed, "timer-signed", "set_timer_op with bit 63 set is a time in the past: fires at once")
{
	long r = time_init();
	evtchn_set_handler(PVLAB_TIMER_PORT, on_timer);
	if (!check_eq(r, 0, "map shared info and register the callback vector"))
		return;
	static const u64 huge[] = { 1ULL << 63, ~0ULL, 0x8000000000000001ULL, 0xfff0000000000000ULL };
	for (unsigned i = 0; i < ARRAY_SIZE(huge); i++) {
		u64 before = timer_events;
		check_eq(HYPERVISOR_set_timer_op(huge[i]), 0, "set_timer_op(huge) is accepted");
		check(timer_fired(before), "set_timer_op(%lx) fired", huge[i]);
	}
	u64 before = timer_events;
	check_eq(HYPERVISOR_set_timer_op((1ULL << 62) + get_system_time()), 0, "a time far ahead");
	check(!timer_fired(before), "... does not fire");
	HYPERVISOR_set_timer_op(0);
}

TEST(test_xenver_caps, "xenver-caps", "XENVER_capabilities writes the whole 1024-byte buffer, and no more")
{
	u8 *buf = alloc_page();
	memset(buf, 0xa5, PAGE_SIZE);
	check_eq(HYPERVISOR_xen_version(XENVER_capabilities, buf), 0, "xen_version(capabilities)");
	check(!strcmp((char *)buf, "xen-3.0-x86_64"), "the string is xen-3.0-x86_64");
	size_t n = strlen((char *)buf), zero = 0, beyond = 0;
	for (size_t i = n; i < sizeof(xen_capabilities_info_t); i++)
		zero += buf[i] == 0;
	for (size_t i = sizeof(xen_capabilities_info_t); i < PAGE_SIZE; i++)
		beyond += buf[i] == 0xa5;
	check_eq((long)zero, (long)(sizeof(xen_capabilities_info_t) - n), "the rest of the 1024 bytes is NUL");
	check_eq((long)beyond, (long)(PAGE_SIZE - sizeof(xen_capabilities_info_t)), "nothing past them is written");
}

#define SPIN_NS 2000000000ULL	/* how long spin-cli keeps interrupts off */
#define NAPS 20			/* timer-nap: sleeps of NAP_NS, each needing a timer */
#define NAP_NS 25000000ULL

/* A domain that keeps interrupts off for a long time -- from boot: it never sets IF, which
 * some emulators need to see before a host interrupt makes a guest exit.  Nobody else's
 * timer may wait for it.  It spins on the TSC, calibrated against the hypervisor's clock. */
TEST(test_spin_cli, "spin-cli", "spin 2 s with interrupts off")
{
	u64 t0 = (u64)HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_system_time, 0), c0 = rdtsc();
	spin_tsc(1000000);
	u64 t1 = (u64)HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_system_time, 0), c1 = rdtsc();
	if (!check(t1 > t0 && c1 > c0, "the TSC and the system time advance"))
		return;
	u64 cycles = SPIN_NS * (c1 - c0) / (t1 - t0);
	check(!(read_rflags() & RFLAGS_IF), "interrupts are off");
	printf("spin: start\n");
	cli();
	spin_tsc(cycles);
	printf("spin: end\n");
}

/* The other side: NAPS sleeps on the one-shot timer, which must fire while spin-cli spins. */
TEST(test_timer_nap, "timer-nap", "sleep on the timer 20 times while another domain spins")
{
	if (!check_eq(time_init(), 0, "map shared info and register the callback vector"))
		return;
	for (int i = 0; i < NAPS; i++) {
		sleep_ns(NAP_NS);
		printf("woke %d\n", i);
	}
}
