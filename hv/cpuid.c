/*
 * CPUID as a guest sees it.  The real CPU answers first (exit.c); then cpuid_filter() edits
 * the answer: a guest must learn that it runs on pvlab and must not see features it cannot
 * use -- above all the virtualization extensions themselves, whose instructions we turn
 * into #UD.
 */
#include "hv/hv.h"

#define CPUID1_ECX_VMX BIT(5)
#define CPUID1_ECX_X2APIC BIT(21)
#define CPUID1_ECX_XSAVE BIT(26)
#define CPUID1_ECX_OSXSAVE BIT(27)
#define CPUID1_ECX_HYPERVISOR BIT(31)
#define CPUID1_EDX_APIC BIT(9)
#define CPUID1_ECX_MONITOR BIT(3)
#define CPUIDX1_ECX_SVM BIT(2)

/* Edit the real CPU's answer *r for (leaf, subleaf) into what a PV guest should see. */
void cpuid_filter(u32 leaf, u32 subleaf, struct cpuid_regs *r)
{
	(void)subleaf;
#if SOLUTION(0)
	const char *sig = PVLAB_CPUID_SIGNATURE;
	switch (leaf) {
	case 1:
		/* No VT-x, no local APIC or x2APIC (a PV guest has event channels instead), no
		 * MONITOR/MWAIT (they #UD), no XSAVE (XCR0 is not virtualized); and the
		 * "running under a hypervisor" bit that tells the guest to look at 0x40000000. */
		r->ecx &= ~(CPUID1_ECX_VMX | CPUID1_ECX_X2APIC | CPUID1_ECX_XSAVE |
			    CPUID1_ECX_OSXSAVE | CPUID1_ECX_MONITOR);
		r->ecx |= CPUID1_ECX_HYPERVISOR;
		r->edx &= ~CPUID1_EDX_APIC;
		break;
	case 0x80000001:
		r->ecx &= ~CPUIDX1_ECX_SVM;
		break;
	case 0x8000000a:	/* SVM feature leaf */
		r->eax = r->ebx = r->ecx = r->edx = 0;
		break;
	case PVLAB_CPUID_BASE:	/* highest hypervisor leaf, then the 12-byte signature */
		r->eax = PVLAB_CPUID_BASE + 1;
		memcpy(&r->ebx, sig, 4);
		memcpy(&r->ecx, sig + 4, 4);
		memcpy(&r->edx, sig + 8, 4);
		break;
	case PVLAB_CPUID_BASE + 1:	/* version, as xen_version(XENVER_version) */
		r->eax = (PVLAB_VERSION_MAJOR << 16) | PVLAB_VERSION_MINOR;
		r->ebx = r->ecx = r->edx = 0;
		break;
	}
#else // SOLUTION(0)
	/* Lab 0: hide VMX (leaf 1 ECX bit 5) and SVM (leaf 0x80000001 ECX bit 2) and the SVM
	 * leaf 0x8000000A; set the hypervisor bit (leaf 1 ECX bit 31); answer leaf 0x40000000
	 * with the highest hypervisor leaf in EAX and PVLAB_CPUID_SIGNATURE in EBX, ECX, EDX;
	 * and leaf 0x40000001 with the version.  See handouts/lab0-tour.md. */
	(void)leaf;
	(void)r;
	lab_stub_warn(NULL, 0, "cpuid_filter");
#endif // SOLUTION(0)
}
