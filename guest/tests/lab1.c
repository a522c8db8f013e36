/*
 * Lab 1: hypercalls.  Each test starts with a call that must succeed, so that a stub which
 * answers -ENOSYS to everything cannot pass by accident.
 */
#include "guest/test.h"

#define VERSION ((PVLAB_VERSION_MAJOR << 16) | PVLAB_VERSION_MINOR)
#define NONCANONICAL 0x8000000000000000ULL

/* An address just past the domain's memory: never mapped. */
static u64 unmapped(void)
{
	return virt_base + start_info->nr_pages * PAGE_SIZE + PAGE_SIZE;
}

TEST(test_hc_null, "hypercall-null", "a null hypercall returns its value")
{
	check_eq(HYPERVISOR_xen_version(XENVER_version, NULL), VERSION, "xen_version(version)");
	long before = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0);
	for (int i = 0; i < 100; i++)
		HYPERVISOR_xen_version(XENVER_version, NULL);
	long after = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0);
	check(before > 0 && after - before >= 100, "each hypercall is one VM exit (%ld -> %ld)", before, after);
	xen_extraversion_t extra;
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, extra), 0, "xen_version(extraversion)");
	check(!strcmp(extra, "-pvlab"), "extraversion is \"-pvlab\" (got \"%s\")", extra);
	/* Arguments 4 and 5 travel in R10 and R8, not RCX and R9 as in a C call or syscall. */
	check_eq(_hypercall(__HYPERVISOR_pvlab_debug_op, PVLAB_DEBUG_args, 1, 2, 3, 4), 0x04030201,
		 "all five arguments arrive in their registers (RDI, RSI, RDX, R10, R8)");
}

TEST(test_hc_bad, "hypercall-bad", "unknown and out-of-range hypercall numbers")
{
	check_eq(hypercall_raw(__HYPERVISOR_xen_version, XENVER_version, 0, 0, 0, 0), VERSION,
		 "the raw path works for a good number");
	check_eq(_hypercall(__HYPERVISOR_sysctl, 0, 0, 0, 0, 0), -XEN_ENOSYS, "an unimplemented number: -ENOSYS");
	check_eq(hypercall_raw(NR_HYPERCALLS, 0, 0, 0, 0, 0), -XEN_ENOSYS, "NR_HYPERCALLS: -ENOSYS");
	check_eq(hypercall_raw(1000, 0, 0, 0, 0, 0), -XEN_ENOSYS, "1000: -ENOSYS");
	check_eq(hypercall_raw(1ULL << 63, 0, 0, 0, 0, 0), -XEN_ENOSYS, "2^63: -ENOSYS");
	check_eq(hypercall_raw((1ULL << 32) + __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0, 0), -XEN_ENOSYS,
		 "2^32 + xen_version: -ENOSYS (the number is 64 bits)");
	check_eq(hypercall_raw(~0ULL, 0, 0, 0, 0, 0), -XEN_ENOSYS, "-1: -ENOSYS");
	check_eq(HYPERVISOR_sched_op(99, NULL), -XEN_ENOSYS, "sched_op(99): -ENOSYS");
	check_eq(HYPERVISOR_xen_version(99, NULL), -XEN_ENOSYS, "xen_version(99): -ENOSYS");
	check_eq(HYPERVISOR_sched_op(SCHEDOP_shutdown, NULL), -XEN_EFAULT, "shutdown(NULL): -EFAULT");
	struct sched_shutdown bad = { .reason = 77 };
	check_eq(HYPERVISOR_sched_op(SCHEDOP_shutdown, &bad), -XEN_EINVAL, "shutdown(reason 77): -EINVAL");
	check_eq(HYPERVISOR_sched_op(SCHEDOP_yield, NULL), 0, "yield: 0");
}

TEST(test_console, "console", "console_io: lengths, pointers, pages")
{
	/* A string across a page boundary: two fresh pages are adjacent in our memory. */
	char *p1 = alloc_page(), *p2 = alloc_page();
	if (!check(p2 == p1 + PAGE_SIZE, "two adjacent pages"))
		return;
	const char *msg = "console: two pages ok\n";
	char *s = p2 - 10;
	memcpy(s, msg, strlen(msg));
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, (int)strlen(msg), s), 0, "a write across two pages");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 0, s), 0, "length 0");
	/* Longer than any small piece the hypervisor copies at a time: every byte in place. */
	static const char lines[] =
		"console: line 1/5 abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX\n"
		"console: line 2/5 bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY\n"
		"console: line 3/5 cdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
		"console: line 4/5 defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa\n"
		"console: line 5/5 efghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZab\n";
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, (int)sizeof(lines) - 1, lines), 0, "five lines in one write");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, -1, s), -XEN_EINVAL, "length -1: -EINVAL");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, (int)0x80000000u, s), -XEN_EINVAL, "length INT_MIN: -EINVAL");
	check_eq(_hypercall(__HYPERVISOR_console_io, CONSOLEIO_write, 1ULL << 40, (u64)s, 0, 0), -XEN_EINVAL,
		 "length 2^40: -EINVAL");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, CONSOLEIO_MAX + 1, s), -XEN_EINVAL, "length MAX+1: -EINVAL");
	static char newlines[CONSOLEIO_MAX];	/* empty lines print nothing */
	memset(newlines, '\n', sizeof(newlines));
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, CONSOLEIO_MAX, newlines), 0, "length MAX: allowed");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_read, 1, s), -XEN_ENOSYS, "CONSOLEIO_read: -ENOSYS");
	check_eq(HYPERVISOR_console_io(7, 1, s), -XEN_ENOSYS, "unknown command: -ENOSYS");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 4, NULL), -XEN_EFAULT, "NULL: -EFAULT");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 4, (char *)NONCANONICAL), -XEN_EFAULT,
		 "non-canonical: -EFAULT");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 4, (char *)(NONCANONICAL | (u64)s)), -XEN_EFAULT,
		 "a non-canonical alias of a good buffer: -EFAULT");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 4, (char *)unmapped()), -XEN_EFAULT, "unmapped: -EFAULT");
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 4, (char *)0x100000), -XEN_EFAULT,
		 "the hypervisor's physical address: -EFAULT");
	char *last = pfn_to_virt(start_info->nr_pages) - 4;
	memcpy(last, "BAD\n", 4);
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 8, last), -XEN_EFAULT,
		 "running off the end of memory: -EFAULT (and \"BAD\" not printed)");
	/* Longer than one piece of the copy: nothing may be printed before the check fails. */
	char *longer = pfn_to_virt(start_info->nr_pages) - 300;
	memset(longer, 'x', 300);
	memcpy(longer, "BAD", 3);
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, 600, longer), -XEN_EFAULT,
		 "600 bytes running off the end: -EFAULT (and nothing printed)");
	check_eq(_hypercall(__HYPERVISOR_console_io, CONSOLEIO_write, 16, (u64)-16, 0, 0), -XEN_EFAULT,
		 "a range that wraps around: -EFAULT");
}

TEST(test_copy_string, "copy-string", "strings from the guest: across pages, unterminated, unmapped")
{
	char *p1 = alloc_page(), *p2 = alloc_page();
	if (!check(p2 == p1 + PAGE_SIZE, "two adjacent pages"))
		return;
	const char *msg = "a string across two pages";
	char *s = p2 - 8;
	memcpy(s, msg, strlen(msg) + 1);
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)s), (long)strlen(msg),
		 "a string across two pages: its length");
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)""), 0, "the empty string: 0");
	/* Exactly PVLAB_LOG_MAX - 1 characters fit; one more does not. */
	memset(p1, 'y', PVLAB_LOG_MAX);
	p1[PVLAB_LOG_MAX - 1] = 0;
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)p1), PVLAB_LOG_MAX - 1, "the longest string");
	p1[PVLAB_LOG_MAX - 1] = 'y';
	p1[PVLAB_LOG_MAX] = 0;
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)p1), -XEN_E2BIG, "one byte longer: -E2BIG");
	/* A string that ends right before unmapped memory is fine; one that runs into it is not. */
	char *last = pfn_to_virt(start_info->nr_pages) - 4;
	memcpy(last, "end", 4);
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)last), 3, "a string ending at the last byte");
	memcpy(last, "BAD!", 4);
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)last), -XEN_EFAULT,
		 "a string running off the end of memory: -EFAULT (and not printed)");
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, 0), -XEN_EFAULT, "NULL: -EFAULT");
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, NONCANONICAL), -XEN_EFAULT, "non-canonical: -EFAULT");
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)-2), -XEN_EFAULT, "a string that wraps: -EFAULT");
}

TEST(test_copy_to, "copy-to-guest", "the hypervisor writes only where the guest could")
{
	xen_extraversion_t ok = "";
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, ok), 0, "a good buffer");
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, NULL), -XEN_EFAULT, "NULL: -EFAULT");
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, (void *)NONCANONICAL), -XEN_EFAULT,
		 "non-canonical: -EFAULT");
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, (void *)(NONCANONICAL | (u64)ok)), -XEN_EFAULT,
		 "a non-canonical alias of a good buffer: -EFAULT");
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, (void *)unmapped()), -XEN_EFAULT,
		 "unmapped: -EFAULT");
	/* Our page tables are mapped read-only: the hypervisor must not write there for us. */
	u64 *pt = (u64 *)start_info->pt_base;
	u64 saved = pt[0];
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, pt), -XEN_EFAULT,
		 "a read-only page-table page: -EFAULT");
	check(pt[0] == saved, "... and the page table is unchanged");
	/* A buffer whose second half is read-only: nothing may be written, not even the
	 * first half. */
	char *half = (char *)pt - 8;
	memset(half, 'x', 8);
	check_eq(HYPERVISOR_xen_version(XENVER_extraversion, half), -XEN_EFAULT,
		 "half writable, half read-only: -EFAULT");
	check(!memcmp(half, "xxxxxxxx", 8), "... and its writable half is untouched");
}

TEST(test_multicall, "multicall", "batches: each entry's result, bad entries, nesting")
{
	static struct multicall_entry mc[6];
	static const char hi[] = "multicall: hi\n";
	memset(mc, 0, sizeof(mc));
	mc[0] = (struct multicall_entry){ .op = __HYPERVISOR_xen_version, .args = { XENVER_version } };
	mc[1] = (struct multicall_entry){ .op = 99 };
	mc[2] = (struct multicall_entry){ .op = __HYPERVISOR_console_io,
					  .args = { CONSOLEIO_write, sizeof(hi) - 1, (u64)hi } };
	mc[3] = (struct multicall_entry){ .op = __HYPERVISOR_xen_version, .args = { XENVER_extraversion, 0 } };
	mc[4] = (struct multicall_entry){ .op = __HYPERVISOR_multicall, .args = { (u64)mc, 1 } };
	mc[5] = (struct multicall_entry){ .op = __HYPERVISOR_console_io, .args = { CONSOLEIO_write, (u64)-1, (u64)hi } };
	for (int i = 0; i < 6; i++)
		mc[i].result = 0x1234;
	check_eq(HYPERVISOR_multicall(mc, 6), 0, "a mixed batch returns 0");
	check_eq((long)mc[0].result, VERSION, "entry 0: xen_version");
	check_eq((long)mc[1].result, -XEN_ENOSYS, "entry 1: unknown op -ENOSYS");
	check_eq((long)mc[2].result, 0, "entry 2: console write");
	check_eq((long)mc[3].result, -XEN_EFAULT, "entry 3: bad pointer -EFAULT");
	check_eq((long)mc[4].result, -XEN_EINVAL, "entry 4: nested multicall -EINVAL");
	check_eq((long)mc[5].result, -XEN_EINVAL, "entry 5: bad length -EINVAL");
	check_eq(HYPERVISOR_multicall(mc, 0), 0, "an empty batch");
	check_eq(HYPERVISOR_multicall(mc, MULTICALL_MAX + 1), -XEN_EINVAL, "too many entries: -EINVAL");
	check_eq(HYPERVISOR_multicall(NULL, 1), -XEN_EFAULT, "entries at NULL: -EFAULT");
	check_eq(HYPERVISOR_multicall((void *)NONCANONICAL, 1), -XEN_EFAULT, "non-canonical entries: -EFAULT");
	/* The batching helper, across more than one multicall. */
	static struct mc_batch b;
	unsigned idx[100];
	int in_order = 0;
	for (int i = 0; i < 100; i++) {
		idx[i] = mc_add(&b, __HYPERVISOR_xen_version, XENVER_version, 0, 0, 0, 0);
		in_order += idx[i] == (unsigned)i % MULTICALL_MAX;
		b.e[idx[i] % MULTICALL_MAX].result = 0x1234;	/* no stale result can pass */
	}
	check_eq(in_order, 100, "mc_add returns each entry's index in the batch");
	check_eq(mc_flush(&b), 0, "mc_flush of the last part");
	int good = 0;
	for (int i = 64; i < 100; i++)
		good += b.e[idx[i] % MULTICALL_MAX].result == VERSION;
	check_eq(good, 36, "the 36 entries after the automatic flush all ran");
}

static long user_version(void *arg UNUSED)
{
	return HYPERVISOR_xen_version(XENVER_version, NULL);
}

TEST(test_cpl3, "hypercall-user", "hypercalls from ring 3 are refused")
{
	check_eq(user_version(NULL), VERSION, "from ring 0: allowed");
	check_eq(run_in_user_mode(user_version, NULL), -XEN_EPERM, "from ring 3: -EPERM");
}

/* Writes to control registers are emulated: the hypervisor decodes the instruction by
 * reading it through copy_from_guest, so these tests need lab 1 too. */
#define CR_FAULT(insn, val)                                                            \
	({                                                                             \
		fault_reset();                                                         \
		__asm__ volatile("1: " insn "\n2:\n" EXTABLE(1b, 2b) ::"r"((u64)(val)) : "memory"); \
		last_fault.vector;                                                     \
	})

TEST(test_cr, "cr-write", "control-register writes that would escape direct paging #GP")
{
	u64 cr0 = read_cr0(), cr3 = read_cr3(), cr4 = read_cr4();
	check_eq(CR_FAULT("mov %0, %%cr3", cr3), -1, "reloading CR3 with its own value works");
	check_eq(CR_FAULT("mov %0, %%cr0", cr0 | CR0_TS), -1, "setting CR0.TS works");
	clts();
	check(!(read_cr0() & CR0_TS), "CLTS clears CR0.TS");
	check_eq(CR_FAULT("mov %0, %%cr3", 0x100000), EXC_GP, "CR3 = a hypervisor frame: #GP");
	check_eq(CR_FAULT("mov %0, %%cr3", virt_to_mfn(alloc_page()) << PAGE_SHIFT), EXC_GP,
		 "CR3 = my own frame that is not a page table: #GP");
	check_eq(CR_FAULT("mov %0, %%cr3", 1ULL << 45), EXC_GP, "CR3 = beyond memory: #GP");
	check_eq(CR_FAULT("mov %0, %%cr0", cr0 & ~CR0_PG), EXC_GP, "clearing CR0.PG: #GP");
	check_eq(CR_FAULT("mov %0, %%cr0", cr0 & ~CR0_WP), EXC_GP, "clearing CR0.WP: #GP");
	check_eq(CR_FAULT("mov %0, %%cr0", cr0 | CR0_CD), EXC_GP, "setting CR0.CD: #GP");
	check_eq(CR_FAULT("mov %0, %%cr4", cr4 & ~CR4_PAE), EXC_GP, "clearing CR4.PAE: #GP");
	check_eq(CR_FAULT("mov %0, %%cr4", cr4 | CR4_VMXE), EXC_GP, "setting CR4.VMXE: #GP");
	check_eq(CR_FAULT("mov %0, %%cr4", cr4 | CR4_SMEP), EXC_GP, "setting CR4.SMEP: #GP");
	check(read_cr3() == cr3 && read_cr0() == (cr0 & ~CR0_TS) && read_cr4() == cr4,
	      "the control registers are as before");
}
