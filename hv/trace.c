/*
 * The exit trace: an always-on ring of the last TRACE_SIZE VM exits of every domain -- who
 * exited, why (the vendor-neutral enum exit_reason), where, and for a hypercall which one and
 * what it returned.  A crash dump prints the tail of it, and GDB's `pvlab trace`
 * (tools/gdb/pvlab.py) reads `trace` directly (through its debug information, so fields may
 * move, but not change meaning without a change there).
 *
 * Why always on: the short history before a crash explains most crashes, and it is only known
 * if it was kept.  Recording (inline, hv/trace.h) costs one RDTSC and a few stores on one page
 * per exit, next to the tens of thousands of cycles of an exit under QEMU (make bench).
 */
#include "hv/hv.h"
#include "hv/trace.h"

struct trace trace;

/* Indexed by enum exit_reason; GDB reads this table too. */
const char *const trace_reason_name[] = {
	[EXIT_HYPERCALL] = "hypercall", [EXIT_CPUID] = "cpuid", [EXIT_HLT] = "hlt",
	[EXIT_IO] = "io", [EXIT_MSR_READ] = "msr-read", [EXIT_MSR_WRITE] = "msr-write",
	[EXIT_CR_READ] = "cr-read", [EXIT_CR_WRITE] = "cr-write", [EXIT_EXCEPTION] = "exception",
	[EXIT_INTR] = "intr",
	[EXIT_INTR_WINDOW] = "intr-window", [EXIT_TRIPLE_FAULT] = "triple-fault",
	[EXIT_FORBIDDEN] = "forbidden", [EXIT_ENTRY_FAILED] = "entry-failed",
	[EXIT_UNHANDLED] = "unhandled",
};
STATIC_ASSERT(ARRAY_SIZE(trace_reason_name) == EXIT_UNHANDLED + 1);

/* Indexed by hypercall number (include/public/xen.h); NULL: none by that number. */
const char *const trace_hypercall_name[NR_HYPERCALLS] = {
	[__HYPERVISOR_mmu_update] = "mmu_update", [__HYPERVISOR_fpu_taskswitch] = "fpu_taskswitch",
	[__HYPERVISOR_memory_op] = "memory_op", [__HYPERVISOR_multicall] = "multicall",
	[__HYPERVISOR_update_va_mapping] = "update_va_mapping",
	[__HYPERVISOR_set_timer_op] = "set_timer_op", [__HYPERVISOR_xen_version] = "xen_version",
	[__HYPERVISOR_console_io] = "console_io", [__HYPERVISOR_grant_table_op] = "grant_table_op",
	[__HYPERVISOR_mmuext_op] = "mmuext_op", [__HYPERVISOR_sched_op] = "sched_op",
	[__HYPERVISOR_event_channel_op] = "event_channel_op", [__HYPERVISOR_hvm_op] = "hvm_op",
	[__HYPERVISOR_pvlab_debug_op] = "pvlab_debug_op",
};

/* What trace_rec.arg means for each reason ("" = nothing). */
static const char *arg_label(u8 reason)
{
	switch (reason) {
	case EXIT_IO: return "port";
	case EXIT_MSR_READ: case EXIT_MSR_WRITE: return "msr";
	case EXIT_CR_READ: case EXIT_CR_WRITE: return "cr";
	case EXIT_EXCEPTION: return "vector";
	default: return "";
	}
}

static void trace_print(const struct trace_rec *t, u64 seq, u64 now)
{
	u64 us = tsc_khz ? (now - t->tsc) * 1000 / tsc_khz : 0;
	const char *why = t->reason <= EXIT_UNHANDLED && trace_reason_name[t->reason] ?
			  trace_reason_name[t->reason] : "?";
	printf("  #%-6lu %7lu us ago  d%u %-12s rip %016lx", seq, us, t->dom, why, t->rip);
	if (t->reason == EXIT_HYPERCALL) {
		const char *hc = t->arg < NR_HYPERCALLS ? trace_hypercall_name[t->arg] : NULL;
		if (t->arg < NR_HYPERCALLS)
			printf("  %s(%u)", hc ? hc : "unknown", t->arg);
		else
			printf("  number >= %d", NR_HYPERCALLS);
		if (t->done)
			printf(" = %ld", t->result);
	} else if (*arg_label(t->reason)) {
		printf("  %s %x", arg_label(t->reason), t->arg);
	}
	printf("%s\n", t->done ? "" : "  (in progress)");
}

/* Print the last n exits of domain dom (dom < 0: of every domain), oldest first.  Safe to
 * call from any crash path: it reads only the ring, and a fault inside it is not re-entered. */
void trace_dump(int dom, unsigned n)
{
	static bool dumping;
	if (dumping)
		return;
	dumping = true;
	u64 now = rdtsc(), first = trace.seq, found = 0;
	/* Walk back to the n-th newest matching record, then print forwards. */
	while (first > 0 && trace.seq - first < TRACE_SIZE && found < n) {
		first--;
		if (dom < 0 || trace.rec[first % TRACE_SIZE].dom == dom)
			found++;
	}
	if (!found)
		printf("pvlab: no VM exits recorded%s\n", dom < 0 ? " yet" : " for this domain");
	else if (dom < 0)
		printf("pvlab: last %lu exits (of %lu), oldest first:\n", found, trace.seq);
	else
		printf("pvlab: last %lu exits of d%d, oldest first:\n", found, dom);
	for (u64 s = first; s < trace.seq; s++)
		if (dom < 0 || trace.rec[s % TRACE_SIZE].dom == dom)
			trace_print(&trace.rec[s % TRACE_SIZE], s, now);
	dumping = false;
}

/* The hypervisor itself failed (kern/'s panic and trap paths): the last exits of everyone. */
void hv_panic_dump(void)
{
	trace_dump(-1, TRACE_DUMP);
}
