/*
 * The exit trace's recording half (hv/trace.c has the rest): inline, because it runs on every
 * VM exit.  Under QEMU's TCG every world switch empties the software TLB and the jump cache,
 * so each code or data page the exit path touches, and each indirect jump or call, costs a
 * page walk or a lookup: a call into another file cost ~3000 cycles here, a few stores inline
 * on one data page far less.
 */
#ifndef PVLAB_HV_TRACE_H
#define PVLAB_HV_TRACE_H

#include "hv/hv.h"

#define TRACE_SIZE 127		/* records: with the sequence number, exactly one page */

struct trace_rec {
	u64 tsc;		/* TSC when the exit reached handle_exit() */
	u64 rip;		/* guest RIP at the exit: the instruction that exited */
	s64 result;		/* RAX after the handler (a hypercall's result), once done */
	u32 arg;		/* hypercall: its number (~0: >= NR_HYPERCALLS); I/O: the port; MSR:
				 * ECX; CR write: the CR; exception: the vector; else 0 */
	u16 dom;		/* domain id */
	u8 reason;		/* enum exit_reason */
	u8 done;		/* 1 once handle_exit() returned from this exit */
};
STATIC_ASSERT(sizeof(struct trace_rec) == 32);

/* GDB's `pvlab trace` (tools/gdb/pvlab.py) reads this through the debug information. */
extern struct trace {
	u64 seq;		/* exits recorded since boot; the newest is rec[(seq - 1) % TRACE_SIZE] */
	struct trace_rec rec[TRACE_SIZE];
} __attribute__((aligned(PAGE_SIZE))) trace;
STATIC_ASSERT(sizeof(struct trace) == PAGE_SIZE);

/* Conditional moves and direct branches only: no jump table (see the top of the file). */
static inline u32 trace_arg(const struct vcpu *v, const struct vm_exit *e)
{
	u32 arg = 0;
	arg = e->reason == EXIT_HYPERCALL ? (v->regs.rax < NR_HYPERCALLS ? (u32)v->regs.rax : ~0u) : arg;
	arg = e->reason == EXIT_IO ? e->io.port : arg;
	arg = e->reason == EXIT_MSR_READ || e->reason == EXIT_MSR_WRITE ? (u32)v->regs.rcx : arg;
	arg = e->reason == EXIT_CR_WRITE ? e->cr.cr : arg;
	arg = e->reason == EXIT_EXCEPTION ? e->exc.vector : arg;
	return arg;
}

/* Record exit e of v: first thing in handle_exit(), before a handler changes v->regs. */
static inline void trace_exit(struct vcpu *v, const struct vm_exit *e)
{
	struct trace_rec *t = &trace.rec[trace.seq++ % TRACE_SIZE];
	*t = (struct trace_rec){ .tsc = rdtsc(), .rip = v->regs.rip, .arg = trace_arg(v, e),
				 .dom = v->dom->id, .reason = (u8)e->reason };
}

/* The newest exit's handler returned (exits do not nest): last thing in handle_exit(). */
static inline void trace_exit_done(struct vcpu *v)
{
	struct trace_rec *t = &trace.rec[(trace.seq - 1) % TRACE_SIZE];
	t->result = (s64)v->regs.rax;
	t->done = 1;
}

#endif
