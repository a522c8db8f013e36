/*
 * Lab 8: lazy FPU.  The hypervisor switches FPU/SSE state between domains lazily (boot
 * option fpu=lazy) or eagerly (fpu=eager); the guest switches it lazily between its own
 * threads with fpu_taskswitch and #NM.  Each test starts with a call that only a working
 * fpu_taskswitch passes, then checks that no register value ever crosses a domain or a
 * thread, that results stay bit-exact across thousands of switches, and that the guest
 * sees only its own CR0.TS and its own #NM.
 */
#include "guest/test.h"

#define ROUNDS 300		/* yields per check loop: each a chance for others to run */
#define COMPUTE_STEPS 3000	/* iterations of the compute test, one yield each */

static unsigned seed(void)
{
	const char *s = test_option("seed");
	u64 n;
	return s && !parse_size(s, &n) ? (unsigned)n : 1;
}

/* fpu_taskswitch must exist before anything else here means something. */
static bool taskswitch_works(void)
{
	return check_eq(HYPERVISOR_fpu_taskswitch(0), 0, "fpu_taskswitch(0)");
}

/* NULL if the registers hold the reset state, else where they do not. */
static const char *not_reset(void)
{
	static struct fxsave_area now, reset;
	memset(&reset, 0, sizeof(reset));
	reset.fcw = FCW_RESET;
	reset.mxcsr = MXCSR_RESET;
	fxsave(&now);
	return fxsave_diff(&now, &reset);
}

/* Load pattern n, then yield (to other domains and, with threads, to other threads)
 * `rounds` times, checking the registers after each: the round that failed, or rounds. */
static int keep_pattern(unsigned n, int rounds, bool threads, const char **where)
{
	static struct fxsave_area pat[MAX_THREADS], now[MAX_THREADS];
	int t = thread_current ? thread_current->id : 0;
	fxsave_pattern(&pat[t], n);
	fxrstor(&pat[t]);
	for (int r = 0; r < rounds; r++) {
		if (threads)
			thread_yield();
		if (!threads || r % 4 == 0)
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		fxsave(&now[t]);
		if ((*where = fxsave_diff(&now[t], &pat[t])))
			return r;
	}
	*where = NULL;
	return rounds;
}

static long fpu_switches(void)
{
	return HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_fpu_switches, 0);
}

TEST(test_lazy_private, "lazy-private", "my FPU/SSE registers start at reset and stay mine across domain switches")
{
	if (!taskswitch_works())
		return;
	const char *d = not_reset();
	check(!d, "my first FPU/SSE state is the reset state%s%s", d ? ", but not in " : "", d ? d : "");
	int r = keep_pattern(seed(), ROUNDS, false, &d);
	check(r == ROUNDS, "my registers survived %d of %d yields bit for bit%s%s", r, ROUNDS,
	      d ? "; changed: " : "", d ? d : "");
	const char *max = test_option("max_switches");
	u64 m;
	if (max && !parse_size(max, &m))
		check(fpu_switches() <= (long)m, "my FPU state was loaded or saved %ld times (at most %lu: "
		      "the other domain never uses the FPU)", fpu_switches(), m);
}

TEST(test_lazy_none, "lazy-none", "a domain that never uses the FPU causes no FPU save or restore")
{
	if (!taskswitch_works())
		return;
	for (int r = 0; r < ROUNDS; r++)
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	check_eq(fpu_switches(), 0, "after 300 switches, my FPU state was never loaded or saved");
}

/* Three accumulators kept in registers across every switch: XMM0 (a double sum), XMM1 (two
 * 64-bit integer sums) and ST0 (an x87 sum).  The compiler never touches them (the guest is
 * built with -mgeneral-regs-only), so only a wrong switch can. */
TEST(test_lazy_compute, "lazy-compute", "computing with x87 and SSE across thousands of switches gives bit-exact results")
{
	if (!taskswitch_works())
		return;
	u64 n = seed(), inc[2] = { n, 3 * n }, vec[2], sum;
	u8 x87[10];	/* an 80-bit x87 value, kept as bytes (no long double here) */
	__asm__ volatile("xorpd %%xmm0, %%xmm0; pxor %%xmm1, %%xmm1; movdqu %0, %%xmm3; fninit; fldz"
			 :: "m"(inc) : "memory");
	for (u32 k = 1; k <= COMPUTE_STEPS; k++) {
		__asm__ volatile("cvtsi2sdq %0, %%xmm2; addsd %%xmm2, %%xmm0; fiaddl %1; paddq %%xmm3, %%xmm1"
				 :: "r"((u64)k * n * 1000003), "m"(k));
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	__asm__ volatile("movsd %%xmm0, %0; movdqu %%xmm1, %1; fstpt %2" : "=m"(sum), "=m"(vec), "=m"(x87));
	u64 want = n * 1000003 * COMPUTE_STEPS * (COMPUTE_STEPS + 1) / 2, wbits, x87_int;
	/* want < 2^53, so exact as a double: its bits are what a correct sum holds */
	__asm__ volatile("cvtsi2sdq %1, %%xmm2; movsd %%xmm2, %0" : "=m"(wbits) : "r"(want));
	check(sum == wbits, "SSE sum of %d terms is bit-exact (%lx, want %lx)", COMPUTE_STEPS, sum, wbits);
	check(vec[0] == n * COMPUTE_STEPS && vec[1] == 3 * n * COMPUTE_STEPS,
	      "SSE integer sums are exact (%lu %lu)", vec[0], vec[1]);
	__asm__ volatile("fldt %1; fistpll %0" : "=m"(x87_int) : "m"(x87));
	check_eq((long)x87_int, COMPUTE_STEPS * (COMPUTE_STEPS + 1) / 2, "x87 sum is exact");
}

static volatile int thread_bad;

/* A guest thread: starts from the reset state, keeps a pattern of its own across thread and
 * domain switches. */
static void pattern_thread(void *arg)
{
	unsigned n = (unsigned)(u64)arg;
	const char *d = not_reset();
	if (!check(!d, "thread %d starts from the reset state%s%s", thread_current->id,
		   d ? ", but not in " : "", d ? d : ""))
		thread_bad++;
	int r = keep_pattern(n, ROUNDS, true, &d);
	if (!check(r == ROUNDS, "thread %d: registers survived %d of %d thread switches%s%s",
		   thread_current->id, r, ROUNDS, d ? "; changed: " : "", d ? d : ""))
		thread_bad++;
	if (!check(thread_current->fpu_traps > 0 && thread_current->fpu_traps <= ROUNDS + 1,
		   "thread %d took %lu #NM (lazy switching, at most one per switch)",
		   thread_current->id, thread_current->fpu_traps))
		thread_bad++;
}

TEST(test_lazy_threads, "lazy-threads", "guest threads each keep their own FPU/SSE registers, switched lazily")
{
	if (!taskswitch_works())
		return;
	unsigned n = seed();
	for (u64 i = 1; i <= 3; i++)
		if (!check(thread_create(pattern_thread, (void *)(n * 16 + i)) != NULL, "thread %lu created", i))
			return;
	const char *d;
	int r = keep_pattern(n * 16, ROUNDS, true, &d);
	check(r == ROUNDS, "thread 0: registers survived %d of %d thread switches%s%s", r, ROUNDS,
	      d ? "; changed: " : "", d ? d : "");
	thread_join_all();
	check_eq(thread_bad, 0, "every thread kept its own registers");
}

/* Run an SSE instruction; the vector it faulted with, or -1. */
static int sse_op(void)
{
	fault_reset();
	__asm__ volatile("1: addps %%xmm5, %%xmm5\n2:\n" EXTABLE(1b, 2b) ::: "memory");
	return last_fault.vector;
}

static u64 xmm5_low(void)
{
	u64 v;
	__asm__ volatile("movq %%xmm5, %0" : "=r"(v));
	return v;
}

TEST(test_lazy_guest_nm, "lazy-guest-nm", "after fpu_taskswitch(1) the guest gets its own #NM, with or without a switch")
{
	if (!taskswitch_works())
		return;
	u64 val = 0x0102030405060708ULL;
	__asm__ volatile("movq %0, %%xmm5" :: "r"(val));
	check_eq(HYPERVISOR_fpu_taskswitch(1), 0, "fpu_taskswitch(1)");
	check_eq(sse_op(), EXC_NM, "an SSE instruction with my TS set raises #NM in me");
	int nm = 0;
	for (int r = 0; r < 50; r++) {
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		nm += sse_op() == EXC_NM;
	}
	check_eq(nm, 50, "... also as the first FPU instruction after each of 50 domain switches");
	check_eq(HYPERVISOR_fpu_taskswitch(0), 0, "fpu_taskswitch(0)");
	check_eq(xmm5_low(), (long)val, "then my XMM5 still holds my value");
	check_eq(sse_op(), -1, "and SSE runs");
}

/* CR0.TS as the guest reads it, by MOV and by SMSW (register and memory). */
static void check_ts(bool want, const char *when)
{
	u64 mov = read_cr0(), reg = 0;
	u16 mem = 0;
	__asm__ volatile("smsw %0" : "=r"(reg));
	__asm__ volatile("smsw %0" : "=m"(mem));
	bool ok = !!(mov & CR0_TS) == want && !!(reg & CR0_TS) == want && !!(mem & CR0_TS) == want;
	check(ok, "%s: MOV, SMSW reg and SMSW mem read TS = %d (CR0 %lx, %lx, %x)", when, want, mov, reg, mem);
}

TEST(test_lazy_cr0, "lazy-cr0", "the guest reads only its own CR0.TS, never the hypervisor's")
{
	if (!taskswitch_works())
		return;
	u64 cr0 = read_cr0();
	check_ts(false, "at start");
	for (int r = 0; r < 5; r++) {
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);	/* another domain takes the FPU */
		check_ts(false, "after a switch, before my first FPU use");
		__asm__ volatile("xorps %%xmm6, %%xmm6" ::: "memory");
		check_ts(false, "after my first FPU use");
	}
	/* SMSW's faults, as hardware raises them, also when the hypervisor answers it */
	u64 hole = virt_base + start_info->nr_pages * PAGE_SIZE + PAGE_SIZE;
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	fault_reset();
	__asm__ volatile("1: smsw (%0)\n2:\n" EXTABLE(1b, 2b) :: "r"(hole) : "memory");
	check_eq(last_fault.vector, EXC_PF, "SMSW to unmapped memory: #PF");
	check_eq((long)last_fault.cr2, (long)hole, "... at that address");
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	fault_reset();
	__asm__ volatile("1: smsw (%0)\n2:\n" EXTABLE(1b, 2b) :: "r"(1ULL << 63) : "memory");
	check_eq(last_fault.vector, EXC_GP, "SMSW to a non-canonical address: #GP");
	HYPERVISOR_fpu_taskswitch(1);
	check_ts(true, "after fpu_taskswitch(1)");
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	check_ts(true, "after fpu_taskswitch(1) and a switch");
	clts();
	check_ts(false, "after CLTS");
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0 | CR0_TS));
	check_ts(true, "after MOV to CR0 with TS, under a switch");
	HYPERVISOR_fpu_taskswitch(0);
	check(read_cr0() == cr0, "CR0 is as before (%lx, was %lx)", read_cr0(), cr0);
	check_eq(sse_op(), -1, "SSE runs");
}

TEST(test_lazy_crash, "lazy-crash", "fill the FPU/SSE registers, then crash with them loaded")
{
	if (!taskswitch_works())
		return;
	struct fxsave_area p;
	fxsave_pattern(&p, seed());
	fxrstor(&p);
	struct desc_ptr none = { 0, 0 };
	printf("FPU/SSE registers filled: this domain should now crash\n");
	lidt(&none);
	__asm__ volatile("ud2");
	check(false, "still running after a triple fault");
}
