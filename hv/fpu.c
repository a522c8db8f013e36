/*
 * FPU, MMX and SSE registers of vCPUs: eager switching (given), lazy switching (lab 8).
 *
 * The hypervisor itself never touches these registers (it is compiled with
 * -mgeneral-regs-only), so between two guest runs the physical registers still hold the
 * state of the vCPU that ran last.  Neither VMRUN nor VM entry switches them.  So when the
 * scheduler is about to run a different vCPU, fpu_switch_to() must make sure that the new
 * vCPU can see only its own registers -- otherwise one domain reads and changes another's
 * XMM registers (issue 11, item 4).
 *
 * Eager (boot option fpu=eager, the default): save the registers into the vCPU they belong
 * to and load the new vCPU's own at every switch.  Lazy (fpu=lazy, lab 8): leave them where
 * they are, set CR0.TS underneath the new vCPU (vcpu_ops->set_fpu_trap) and switch only on
 * its first FPU instruction, which raises #NM and exits (fpu_nm_exit).  A vCPU that never
 * touches the FPU then costs nothing -- but the previous owner's values stay in the
 * registers while another domain runs, which is what LazyFP (CVE-2018-3665) reads
 * speculatively on real CPUs.  That is why eager is the default, as in Xen and Linux.
 *
 * The guest has its own, virtual CR0.TS (set by fpu_taskswitch or a CR0 write): the
 * backends keep it apart from ours, so the guest reads only its own TS, and an #NM that its
 * own TS causes is reflected to it.
 *
 * FXSAVE covers everything a guest can reach: x87/MMX, XMM0-15 and MXCSR (the host sets
 * CR4.OSFXSR in kern/entry.S, without which FXSAVE need not store the XMM registers).
 * Guests get no XSAVE: CPUID hides it (hv/cpuid.c), CR4.OSXSAVE is not a bit a guest may
 * set (hv/exit.c) and XSETBV raises #UD, so no guest can enable AVX or any state beyond
 * the FXSAVE area.
 */
#include "hv/hv.h"

bool fpu_lazy;			/* boot option fpu=lazy (hv/main.c) */
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
	v->fpu_switches++;
}

/* Make the registers v's own: save the owner's (if a live vCPU owns them), load v's.
 * Callers run with the FPU usable by the host (host CR0.TS is always clear). */
static void fpu_take(struct vcpu *v)
{
	if (fpu_owner) {
		fxsave(&fpu_owner->fpu);
		fpu_owner->fpu_switches++;
	}
	fpu_load(v);
	fpu_owner = v;
}

/* Lazy switch-in of v (lab 8).  Returns true if done, false to have the caller switch
 * eagerly instead (the stub: so that no release ever leaks FPU state). */
static bool fpu_lazy_switch_to(struct vcpu *v)
{
#if SOLUTION(8)
	/* Still the owner: its registers are live, its own TS alone decides.  Otherwise its
	 * first FPU instruction must exit, whatever its own TS says. */
	vcpu_ops->set_fpu_trap(v, fpu_owner != v);
	return true;
#else // SOLUTION(8)
	/* Lab 8: if v does not own the registers, arrange for its first FPU instruction to
	 * exit (vcpu_ops->set_fpu_trap) instead of switching now; if it does, no trap. */
	lab_stub_warn(v, 8, "fpu_lazy_switch_to");
	return false;
#endif // SOLUTION(8)
}

/* v is about to run: make sure it can reach only its own FPU/SSE registers.  Vendor-neutral;
 * called by the scheduler at every switch-in. */
void fpu_switch_to(struct vcpu *v)
{
	if (fpu_lazy && fpu_lazy_switch_to(v))
		return;
	if (fpu_owner != v)
		fpu_take(v);
}

/* An intercepted #NM of v (lab 8).  Returns true if it was the hypervisor's lazy trap and
 * is handled (the guest re-executes the instruction), false if it is the guest's own #NM
 * (its virtual TS), which the caller reflects to the guest. */
bool fpu_nm_exit(struct vcpu *v)
{
#if SOLUTION(8)
	if (fpu_owner == v)
		return false;	/* its registers are live: the #NM is its own TS's */
	fpu_take(v);
	/* Now the guest's own TS alone decides: if set, the re-executed instruction raises
	 * #NM again, straight into the guest. */
	vcpu_ops->set_fpu_trap(v, false);
	return true;
#else // SOLUTION(8)
	/* Lab 8: if v does not own the registers, save the owner's, load v's, stop trapping
	 * and resume v at the same instruction; otherwise the #NM is the guest's own. */
	lab_stub_warn(v, 8, "fpu_nm_exit");
	return false;
#endif // SOLUTION(8)
}

/* fpu_taskswitch(set): see include/public/xen.h. */
long do_fpu_taskswitch(struct vcpu *v, u64 set, u64 a2 UNUSED, u64 a3 UNUSED, u64 a4 UNUSED, u64 a5 UNUSED)
{
#if SOLUTION(8)
	u64 cr0 = vcpu_ops->get_cr(v, 0);
	vcpu_ops->set_cr(v, 0, set ? cr0 | CR0_TS : cr0 & ~CR0_TS);
	return 0;
#else // SOLUTION(8)
	/* Lab 8: set (set != 0) or clear the guest's own CR0.TS -- the one it reads, not the
	 * one the hypervisor sets underneath for lazy switching. */
	(void)set;
	lab_stub_warn(v, 8, "do_fpu_taskswitch");
	return -XEN_ENOSYS;
#endif // SOLUTION(8)
}

/* v is being destroyed: its state may still be in the registers, but nobody saves it and
 * the next vCPU to take the FPU overwrites all of it with its own. */
void fpu_release(struct vcpu *v)
{
	if (fpu_owner == v)
		fpu_owner = NULL;
}
