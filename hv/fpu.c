/*
 * FPU, MMX and SSE registers of vCPUs: eager switching.
 *
 * The hypervisor itself never touches these registers (it is compiled with
 * -mgeneral-regs-only), so between two guest runs the physical registers still hold the
 * state of the vCPU that ran last.  Neither VMRUN nor VM entry switches them.  So when the
 * scheduler is about to run a different vCPU, fpu_switch_to() saves the registers into the
 * vCPU they belong to and loads the new vCPU's own -- otherwise one domain reads and changes
 * another's XMM registers (issue 11, item 4).  A vCPU that runs again after an exit of its
 * own costs nothing.  Lab 8 makes this lazy (CR0.TS and #NM) and keeps eager as an option.
 *
 * FXSAVE covers everything a guest can reach: x87/MMX, XMM0-15 and MXCSR (the host sets
 * CR4.OSFXSR in kern/entry.S, without which FXSAVE need not store the XMM registers).
 * Guests get no XSAVE: CPUID hides it (hv/cpuid.c), CR4.OSXSAVE is not a bit a guest may
 * set (hv/exit.c) and XSETBV raises #UD, so no guest can enable AVX or any state beyond
 * the FXSAVE area.
 */
#include "hv/hv.h"

static struct vcpu *fpu_owner;	/* whose state the registers hold; NULL = nobody's that lives */

/* Give v the architectural reset state: FCW 0x37f, MXCSR 0x1f80, all else zero (an empty
 * x87 stack, zeroed XMM registers). */
void fpu_init(struct vcpu *v)
{
	memset(&v->fpu, 0, sizeof(v->fpu));
	v->fpu.fcw = FCW_RESET;
	v->fpu.mxcsr = MXCSR_RESET;
}

/* Load v's saved state into the registers. */
static void fpu_load(struct vcpu *v)
{
	/* AMD CPUs restore the last x87 instruction/operand pointers (FIP, FDP, FOP) only
	 * when the saved state has an exception pending; otherwise the previous owner's stay
	 * visible to v's next FXSAVE (CVE-2006-1056).  Overwrite them with our own first. */
	static const u32 k = 0;
	fpu_overwrite_pointers(&k);
	fxrstor(&v->fpu);
}

/* v is about to run: make the FPU registers v's own, saving those of the vCPU that ran
 * last.  Vendor-neutral; called by the scheduler at every switch-in. */
void fpu_switch_to(struct vcpu *v)
{
	if (fpu_owner == v)
		return;
	if (fpu_owner)
		fxsave(&fpu_owner->fpu);
	fpu_load(v);
	fpu_owner = v;
}

/* v is being destroyed: its state may still be in the registers, but nobody saves it and
 * the next fpu_switch_to() overwrites all of it with the next vCPU's own. */
void fpu_release(struct vcpu *v)
{
	if (fpu_owner == v)
		fpu_owner = NULL;
}
