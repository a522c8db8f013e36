/* Lab 0: what a guest learns from CPUID (hv/cpuid.c). */
#include "guest/test.h"

TEST(test_cpuid, "cpuid", "the hypervisor leaves at 0x40000000")
{
	u32 a, b, c, d;
	char sig[13] = { 0 };
	cpuid(1, 0, &a, &b, &c, &d);
	check(c & BIT(31), "CPUID.1:ECX.hypervisor is set");
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	check(!strcmp(sig, "PvLabPvLabHV"), "signature is PvLabPvLabHV (got \"%s\")", sig);
	check(a >= 0x40000001, "highest hypervisor leaf >= 0x40000001 (got %x)", a);
	cpuid(0x40000001, 0, &a, &b, &c, &d);
	check_eq(a, (PVLAB_VERSION_MAJOR << 16) | PVLAB_VERSION_MINOR, "leaf 0x40000001 is the version");
}

TEST(test_cpuid_novirt, "cpuid-novirt", "no VMX or SVM for the guest")
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	check(!(c & BIT(5)), "CPUID.1:ECX.VMX is clear");
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	check(!(c & BIT(2)), "CPUID.80000001:ECX.SVM is clear");
	cpuid(0x8000000a, 0, &a, &b, &c, &d);
	check(!(a | b | c | d), "CPUID.8000000A (SVM features) is all zero");
}
