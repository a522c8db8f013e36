/*
 * PV time (lab 3).  Reading the time must not cost a VM exit, so the hypervisor publishes,
 * in each vCPU's vcpu_info, a snapshot -- a TSC value and the system time (ns since boot) at
 * that TSC value -- plus the factor that turns TSC ticks into nanoseconds.  The guest reads
 * the TSC itself and extrapolates.  Because the hypervisor may rewrite the snapshot between
 * any two guest instructions, the record carries a version: odd while being written.
 */
#include "hv/hv.h"

static u32 tsc_mul;	/* ns = ((ticks << tsc_shift) * tsc_mul) >> 32  (>> -shift if < 0) */
static s8 tsc_shift;
static u64 boot_unix;	/* the wall clock (s since 1970) at system time 0, from the RTC */

/* Ticks -> ns with the published factor, exactly as a guest computes it, so that our own
 * clock and every guest's agree to the nanosecond and never step backwards. */
static u64 scale_delta(u64 delta)
{
	if (tsc_shift < 0)
		delta >>= -tsc_shift;
	else
		delta <<= tsc_shift;
	return (u64)(((__uint128_t)delta * tsc_mul) >> 32);
}

/* System time: ns since boot, on the same scale the guests use. */
u64 system_time(void)
{
	return scale_delta(rdtsc() - tsc_boot);
}

/* Choose tsc_mul and tsc_shift so that ns = ticks * 10^6 / tsc_khz with the most
 * precision: mul is a 32-bit fraction, so shift ticks until the ratio lands in [1/2, 1). */
static void time_scale_init(void)
{
#if SOLUTION(3)
	u64 frac = (1000000ULL << 32) / tsc_khz;	/* ns per tick, as a 32.32 fixed-point */
	int shift = 0;
	while (frac >= (1ULL << 32))
		frac >>= 1, shift++;
	while (frac < (1ULL << 31) && shift > -31)
		frac <<= 1, shift--;
	tsc_mul = (u32)frac;
	tsc_shift = (s8)shift;
#else // SOLUTION(3)
	/* Lab 3: pick tsc_mul and tsc_shift from tsc_khz (see the comment above and
	 * include/public/xen.h, struct vcpu_time_info).  Until then time stands still. */
	printf("pvlab: lab 3: time_scale_init not implemented\n");
	tsc_mul = 0;
	tsc_shift = 0;
#endif // SOLUTION(3)
}

static u8 bcd(u8 v, bool binary)
{
	return binary ? v : (u8)((v >> 4) * 10 + (v & 15));
}

static u8 cmos(u8 reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

/* Days from 1970-01-01 to y-m-d (the civil-calendar algorithm). */
static u64 days_from_civil(u64 y, u64 m, u64 d)
{
	y -= m <= 2;
	u64 era = y / 400, yoe = y - era * 400;
	u64 doy = (153 * (m + (m > 2 ? (u64)-3 : 9)) + 2) / 5 + d - 1;
	u64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Read the RTC (UTC under QEMU) once, at boot. */
static void read_rtc(void)
{
	for (int i = 0; i < 1000000 && (cmos(0x0a) & 0x80); i++)
		pause();	/* an update is in progress */
	bool binary = cmos(0x0b) & 4;
	u64 s = bcd(cmos(0x00), binary), mi = bcd(cmos(0x02), binary);
	u64 h = bcd(cmos(0x04) & 0x7f, binary), d = bcd(cmos(0x07), binary);
	u64 mo = bcd(cmos(0x08), binary), y = bcd(cmos(0x09), binary);
	u64 century = bcd(cmos(0x32), binary);
	y += (century >= 19 && century <= 21 ? century : 20) * 100;
	boot_unix = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - system_time() / 1000000000;
}

void time_init(void)
{
	time_scale_init();
	read_rtc();
	printf("pvlab: PV time: mul %u shift %d, wall clock %lu at boot\n", tsc_mul, tsc_shift, boot_unix);
}

static struct shared_info *shared_info_of(struct domain *d)
{
	return mfn_to_virt(d->shared_info_mfn);
}

/* Publish a fresh time snapshot in d's vcpu_info with the version protocol: make the
 * version odd, write, make it even -- with barriers so that no write moves across. */
void time_update(struct domain *d)
{
#if SOLUTION(3)
	struct vcpu_time_info *t = &shared_info_of(d)->vcpu_info[0].time;
	u64 tsc = rdtsc();
	t->version++;		/* odd: an update is under way */
	barrier();
	t->tsc_timestamp = tsc;
	t->system_time = scale_delta(tsc - tsc_boot);
	t->tsc_to_system_mul = tsc_mul;
	t->tsc_shift = tsc_shift;
	barrier();
	t->version++;		/* even: consistent again */
#else // SOLUTION(3)
	/* Lab 3: write d's vcpu_info[0].time (tsc_timestamp, system_time, tsc_to_system_mul,
	 * tsc_shift) under the version protocol. */
	(void)d, (void)shared_info_of;
	lab_stub_warn(NULL, 3, "time_update");
#endif // SOLUTION(3)
}

/* Set the wall clock of d (seconds since 1970 at system time 0), version-protected too. */
void wallclock_init(struct domain *d)
{
	struct shared_info *s = shared_info_of(d);
	s->wc_version++;
	barrier();
	s->wc_sec = (u32)boot_unix;
	s->wc_sec_hi = (u32)(boot_unix >> 32);
	s->wc_nsec = 0;
	barrier();
	s->wc_version++;
}

/* The stress mode of the tests: at every VM exit of d, alternate between leaving the time
 * record half-written (odd version, nonsense values) and completing it.  A guest that reads
 * it without the version protocol gets caught returning nonsense. */
void time_stress_step(struct domain *d)
{
	struct vcpu_time_info *t = &shared_info_of(d)->vcpu_info[0].time;
	if (!d->time_stress)
		return;
	if (t->version & 1) {
		t->version--;	/* undo the odd step, then a proper update */
		time_update(d);
	} else {
		t->version++;
		t->system_time = 1ULL << 62;
		t->tsc_timestamp = 0;
		t->tsc_to_system_mul = 0xffffffff;
	}
}

/* Turn d's stress mode on or off, leaving the record whole (an even version) when it ends,
 * even if the last stress step left it half-written. */
void time_stress_set(struct domain *d, bool on)
{
	struct vcpu_time_info *t = &shared_info_of(d)->vcpu_info[0].time;
	d->time_stress = on;
	if (t->version & 1)
		t->version--;
	time_update(d);
}

/* set_timer_op(timeout): see include/public/xen.h. */
long do_set_timer_op(struct vcpu *v, u64 timeout, u64 a2 UNUSED, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
#if SOLUTION(3)
	v->timer_deadline = timeout;	/* 0 cancels; a time in the past fires at the next check */
	timers_check();
	return 0;
#else // SOLUTION(3)
	/* Lab 3: arm (or with 0 cancel) v's one-shot timer; timers_check() fires due ones. */
	(void)timeout;
	lab_stub_warn(v, 3, "do_set_timer_op");
	return -XEN_ENOSYS;
#endif // SOLUTION(3)
}

/* Fire every armed timer whose time has come: VIRQ_TIMER to its vCPU.  Deadlines compare
 * signed, as Xen's s_time_t: one with bit 63 set is in the past and fires at once. */
void timers_check(void)
{
	s64 now = (s64)system_time();
	for (int i = 0; i < MAX_DOMAINS; i++) {
		struct vcpu *v = &domains[i].vcpu;
		if (domains[i].state == DOM_RUNNING && v->timer_deadline && (s64)v->timer_deadline <= now) {
			v->timer_deadline = 0;
			evtchn_set_pending(v, PVLAB_TIMER_PORT);
		}
	}
}
