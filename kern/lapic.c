/*
 * The local APIC timer (the scheduler's tick) and the TSC rate, both measured against the
 * PIT, whose 1.193182 MHz clock is the one rate every PC agrees on.
 */
#include "kern/kernel.h"

#define LAPIC_BASE 0xfee00000UL
enum {
	LAPIC_ID = 0x20, LAPIC_EOI = 0xb0, LAPIC_SVR = 0xf0, LAPIC_LVT_TIMER = 0x320,
	LAPIC_TIMER_INIT = 0x380, LAPIC_TIMER_CUR = 0x390, LAPIC_TIMER_DIV = 0x3e0,
};
#define LVT_MASKED BIT(16)
#define LVT_PERIODIC BIT(17)

u64 tsc_khz;
static u64 lapic_khz;	/* timer ticks per ms at divide-by-16 */
u64 tsc_boot;	/* TSC at boot: system time 0 */

static u32 lapic_read(u32 reg) { return *(volatile u32 *)(LAPIC_BASE + reg); }
static void lapic_write(u32 reg, u32 v) { *(volatile u32 *)(LAPIC_BASE + reg) = v; }

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/* Count TSC and LAPIC ticks across 10 ms of PIT channel 2 (polled, gate via port 0x61). */
static void calibrate(void)
{
	const u32 pit_count = 11932;	/* 10 ms at 1.193182 MHz */
	outb(0x61, (inb(0x61) & ~0x02) | 0x01);	/* gate on, speaker off */
	outb(0x43, 0xb0);			/* channel 2, lo/hi byte, mode 0 */
	outb(0x42, pit_count & 0xff);
	outb(0x42, pit_count >> 8);
	lapic_write(LAPIC_TIMER_DIV, 0x3);	/* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	u64 t0 = rdtsc();
	u32 c0 = lapic_read(LAPIC_TIMER_CUR);
	while (!(inb(0x61) & 0x20))
		pause();
	u64 t1 = rdtsc();
	u32 c1 = lapic_read(LAPIC_TIMER_CUR);
	tsc_khz = (t1 - t0) / 10;
	lapic_khz = (u64)(c0 - c1) / 10;
	if (!tsc_khz || !lapic_khz)
		panic("timer calibration failed (tsc %lu kHz, lapic %lu kHz)", tsc_khz, lapic_khz);
}

void lapic_init(void)
{
	outb(0x21, 0xff);	/* mask both 8259 PICs: SeaBIOS leaves IRQ0 on */
	outb(0xa1, 0xff);
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | BIT(11));	/* global enable */
	lapic_write(LAPIC_SVR, 0x100 | IRQ_SPURIOUS);		/* software enable */
	tsc_boot = rdtsc();
	calibrate();
	printf("pvlab: TSC %lu.%03lu MHz, LAPIC timer %lu kHz (/16)\n",
	       tsc_khz / 1000, tsc_khz % 1000, lapic_khz);
}

void lapic_timer_start(unsigned period_us)
{
	u64 count = lapic_khz * period_us / 1000;
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | IRQ_TIMER);
	lapic_write(LAPIC_TIMER_INIT, (u32)MAX(count, 1ULL));
}

u64 now_ns(void)
{
	u64 d = rdtsc() - tsc_boot;
	/* d * 1e6 / tsc_khz without overflowing 64 bits for the first centuries of uptime */
	return d / tsc_khz * 1000000 + d % tsc_khz * 1000000 / tsc_khz;
}

void udelay(unsigned us)
{
	u64 end = rdtsc() + tsc_khz * us / 1000;
	while (rdtsc() < end)
		pause();
}
