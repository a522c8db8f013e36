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

/* A full FXSAVE image that no other seed produces: every XMM byte, every x87 register,
 * the condition codes, control word and MXCSR (rounding, flush-to-zero, sticky flags). */
static void make_pattern(struct fxsave_area *p, unsigned n)
{
	memset(p, 0, sizeof(*p));
	p->fcw = (u16)(0x7f | (n & 3) << 10 | ((n >> 2) & 3) << 8);
	p->fsw = (u16)((n & 7) << 8);
	p->ftw = 0xff;
	p->mxcsr = 0x1f80 | (n % 3 + 1) << 13 | (n & 0x3f);
	for (u64 i = 0; i < 8; i++) {
		u64 mant = 0x8000000000000000ULL | (u64)n << 40 | i << 32 | 0x5ec7e7;
		u16 exp = (u16)(0x4000 + i);
		memcpy(p->st[i], &mant, 8);
		memcpy(p->st[i] + 8, &exp, 2);
	}
	for (u64 i = 0; i < 16; i++) {
		u64 q[2] = { 0x5345435245540000ULL | (u64)n << 8 | i, ~((u64)n << 32 | i) };
		memcpy(p->xmm[i], q, 16);
	}
}

/* Where a and b differ in state the guest owns (not FOP/FIP/FDP, which the CPU updates),
 * or NULL if nowhere. */
static const char *fpu_diff(const struct fxsave_area *a, const struct fxsave_area *b)
{
	if (a->fcw != b->fcw)
		return "FCW";
	if (a->fsw != b->fsw)
		return "FSW";
	if (a->ftw != b->ftw)
		return "the x87 tag word";
	if (a->mxcsr != b->mxcsr)
		return "MXCSR";
	for (int i = 0; i < 8; i++)
		if (memcmp(a->st[i], b->st[i], 10))
			return "an x87 register";
	for (int i = 0; i < 16; i++)
		if (memcmp(a->xmm[i], b->xmm[i], 16))
			return "an XMM register";
	return NULL;
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
	const char *d = fpu_diff(&now, &reset);
	check(!d, "my first FPU/SSE state is the reset state%s%s (FCW %x, MXCSR %x, XMM7 %lx)",
	      d ? ", but not in " : "", d ? d : "", now.fcw, now.mxcsr, xmm7_low());
	check(now.fdp != (u64)&crash_marker, "the x87 operand pointer is not another domain's");
}

static void fill(unsigned n)
{
	make_pattern(&pattern, n);
	fxrstor(&pattern);
}

TEST(test_fpu_mine, "fpu-mine", "my FPU/SSE registers start at reset and stay mine across switches")
{
	check_reset_state();
	fill(seed());
	fxsave(&now);
	const char *d = fpu_diff(&now, &pattern);
	if (!check(!d, "the CPU holds my pattern after FXRSTOR%s%s", d ? ", but not " : "", d ? d : ""))
		return;
	u64 x7;
	memcpy(&x7, pattern.xmm[7], 8);
	int round;
	for (round = 0; round < FPU_ROUNDS; round++) {
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		fxsave(&now);
		if ((d = fpu_diff(&now, &pattern)) || xmm7_low() != x7)
			break;
	}
	check(round == FPU_ROUNDS, "my FPU/SSE registers survived %d yields bit for bit%s%s",
	      round, d ? "; changed: " : "", d ? d : "");
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
