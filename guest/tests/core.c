/* Tests of the hypervisor core every lab relies on: booting, printing, scheduling. */
#include "guest/test.h"

#define LINE_DELAY 20000000	/* TSC ticks between lines: ~10 ms, longer than a time slice */

static const char *who(void)
{
	return start_info->flags & SIF_INITDOMAIN ? "dom0" : "domU";
}

TEST(test_hello, "hello", "boot, print a few lines, shut down")
{
	check(!strcmp(start_info->magic, START_INFO_MAGIC), "start_info magic is %s", START_INFO_MAGIC);
	check(start_info->nr_pages > first_free_pfn, "start_info leaves free pages (%lu of %lu)",
	      start_info->nr_pages - first_free_pfn, start_info->nr_pages);
	for (int i = 0; i < 4; i++) {
		printf("hello %d from %s\n", i, who());
		spin_tsc(LINE_DELAY);	/* long enough to be preempted: lines interleave */
	}
}

TEST(test_demo, "demo", "the demo: who am I, what runs me")
{
	long v = HYPERVISOR_xen_version(XENVER_version, NULL);
	xen_extraversion_t extra = "";
	HYPERVISOR_xen_version(XENVER_extraversion, extra);
	printf("I am %s: %lu MiB, %lu pages free, hypervisor %ld.%ld%s\n", who(),
	       start_info->nr_pages >> 8, start_info->nr_pages - first_free_pfn, v >> 16,
	       v & 0xffff, extra);
	for (int i = 0; i < 3; i++) {
		printf("%s: tick %d\n", who(), i);
		spin_tsc(LINE_DELAY);
	}
	check(v >= 0, "xen_version answered");
}

/* The bystander of the hostile tests: keeps a pattern in its memory while another domain
 * misbehaves, and checks that nothing of it changed. */
TEST(test_idle, "idle", "stay alive and intact while the other domain misbehaves")
{
	u64 *page = alloc_page();
	for (int i = 0; i < 512; i++)
		page[i] = 0x5a5a5a5a00000000ULL | (u64)i;
	for (int i = 0; i < 10; i++)
		spin_tsc(LINE_DELAY);
	int bad = 0;
	for (int i = 0; i < 512; i++)
		bad += page[i] != (0x5a5a5a5a00000000ULL | (u64)i);
	check_eq(bad, 0, "my memory is unchanged");
}
