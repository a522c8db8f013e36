/*
 * The exit trace: an always-on ring of the last TRACE_SIZE VM exits of every domain -- who
 * exited, why (the vendor-neutral enum exit_reason), where, and for a hypercall which one and
 * what it returned.  A crash dump prints the tail of it, and GDB's `pvlab trace`
 * (tools/gdb/pvlab.py) reads `trace_ring` and `trace_seq` directly, so the layout of struct
 * trace_rec is an interface: change both together.
 *
 * Why always on: the short history before a crash explains most crashes, and it is only known
 * if it was kept.  Recording costs one RDTSC and a few stores per exit, next to the thousands
 * of cycles of the exit itself (make bench).
 */
#include "hv/hv.h"

#define TRACE_SIZE 256		/* a power of two: slot = seq % TRACE_SIZE */

struct trace_rec {
	u64 tsc;		/* TSC when the exit reached handle_exit() */
	u64 rip;		/* guest RIP at the exit: the instruction that exited */
	u64 arg;		/* hypercall: its number (RAX); I/O: the port; MSR: ECX; CR write:
				 * the CR; exception: the vector; forbidden/unhandled: the vendor's
				 * exit code (for the backend's documentation only) */
	s64 result;		/* hypercall: RAX after the handler, once done */
	u16 dom;		/* domain id */
	u8 reason;		/* enum exit_reason */
	u8 done;		/* 1 once handle_exit() returned from this exit */
	u32 pad;
};
STATIC_ASSERT(sizeof(struct trace_rec) == 40);

struct trace_rec trace_ring[TRACE_SIZE];
u64 trace_seq;			/* exits recorded since boot; the newest is trace_seq - 1 */

/* Indexed by enum exit_reason; GDB reads this table too. */
const char *const trace_reason_name[] = {
	[EXIT_HYPERCALL] = "hypercall", [EXIT_CPUID] = "cpuid", [EXIT_HLT] = "hlt",
	[EXIT_IO] = "io", [EXIT_MSR_READ] = "msr-read", [EXIT_MSR_WRITE] = "msr-write",
	[EXIT_CR_WRITE] = "cr-write", [EXIT_EXCEPTION] = "exception", [EXIT_INTR] = "intr",
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

static u64 exit_arg(const struct vcpu *v, const struct vm_exit *e)
{
	switch (e->reason) {
	case EXIT_HYPERCALL: return v->regs.rax;
	case EXIT_IO: return e->io.port;
	case EXIT_MSR_READ: case EXIT_MSR_WRITE: return (u32)v->regs.rcx;
	case EXIT_CR_WRITE: return e->cr.cr;
	case EXIT_EXCEPTION: return e->exc.vector;
	case EXIT_FORBIDDEN: case EXIT_UNHANDLED: return e->raw;
	default: return 0;
	}
}

/* Record exit e of v; called first thing in handle_exit(), before any handler changes
 * v->regs. */
void trace_exit(struct vcpu *v, const struct vm_exit *e)
{
	struct trace_rec *t = &trace_ring[trace_seq % TRACE_SIZE];
	t->tsc = rdtsc();
	t->rip = v->regs.rip;
	t->arg = exit_arg(v, e);
	t->result = 0;
	t->dom = v->dom->id;
	t->reason = (u8)e->reason;
	t->done = 0;
	trace_seq++;
}

/* The handler of the newest exit (v's: exits do not nest) returned: keep a hypercall's
 * result.  Called last thing in handle_exit(). */
void trace_exit_done(struct vcpu *v, const struct vm_exit *e)
{
	struct trace_rec *t = &trace_ring[(trace_seq - 1) % TRACE_SIZE];
	if (e->reason == EXIT_HYPERCALL)
		t->result = (s64)v->regs.rax;
	t->done = 1;
}

/* What trace_rec.arg means for each reason ("" = nothing). */
static const char *arg_label(u8 reason)
{
	switch (reason) {
	case EXIT_IO: return "port";
	case EXIT_MSR_READ: case EXIT_MSR_WRITE: return "msr";
	case EXIT_CR_WRITE: return "cr";
	case EXIT_EXCEPTION: return "vector";
	case EXIT_FORBIDDEN: case EXIT_UNHANDLED: return "code";
	default: return "";
	}
}

static void trace_print(const struct trace_rec *t, u64 seq, u64 now)
{
	u64 us = tsc_khz ? (now - t->tsc) * 1000 / tsc_khz : 0;
	const char *why = t->reason <= EXIT_UNHANDLED ? trace_reason_name[t->reason] : "?";
	printf("  #%-6lu %7lu us ago  d%u %-12s rip %016lx", seq, us, t->dom, why, t->rip);
	if (t->reason == EXIT_HYPERCALL) {
		const char *hc = t->arg < NR_HYPERCALLS ? trace_hypercall_name[t->arg] : NULL;
		printf("  %s(%lu)", hc ? hc : "?", t->arg);
		if (t->done)
			printf(" = %ld", t->result);
	} else if (*arg_label(t->reason)) {
		printf("  %s %lx", arg_label(t->reason), t->arg);
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
	u64 now = rdtsc(), first = trace_seq, found = 0;
	/* Walk back to the n-th newest matching record, then print forwards. */
	while (first > 0 && trace_seq - first < TRACE_SIZE && found < n) {
		first--;
		if (dom < 0 || trace_ring[first % TRACE_SIZE].dom == dom)
			found++;
	}
	if (!found)
		printf("pvlab: no VM exits recorded%s\n", dom < 0 ? " yet" : " for this domain");
	else if (dom < 0)
		printf("pvlab: last %lu exits (of %lu), oldest first:\n", found, trace_seq);
	else
		printf("pvlab: last %lu exits of d%d, oldest first:\n", found, dom);
	for (u64 s = first; s < trace_seq; s++)
		if (dom < 0 || trace_ring[s % TRACE_SIZE].dom == dom)
			trace_print(&trace_ring[s % TRACE_SIZE], s, now);
	dumping = false;
}

/* The hypervisor itself failed (kern/'s panic and trap paths): the last exits of everyone. */
void hv_panic_dump(void)
{
	trace_dump(-1, TRACE_DUMP);
}
