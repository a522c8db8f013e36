/*
 * Hypercalls from the guest.  Every call goes through the hypercall page that the
 * hypervisor filled at build time (slot N makes hypercall N), so this kernel never contains
 * a VMMCALL or VMCALL of its own and runs unchanged on AMD and Intel.
 */
#ifndef PVLAB_GUEST_HYPERCALL_H
#define PVLAB_GUEST_HYPERCALL_H

#include "lib.h"
#include "public/xen.h"

extern char hypercall_page[];

/* A lab stub's notice "lab N: what not implemented", once per stub (guest/console.c). */
void lab_todo(const char *notice);

/* Make hypercall nr with five arguments by the calling convention in public/xen.h:
 * RAX = nr (set by the slot), RDI, RSI, RDX, R10, R8 = arguments; result in RAX. */
static inline long _hypercall(unsigned nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
#if SOLUTION(1)
	register u64 r10 __asm__("r10") = a4;
	register u64 r8 __asm__("r8") = a5;
	long ret;
	__asm__ volatile("call *%[slot]"
			 : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
			 : [slot] "r"(hypercall_page + nr * HYPERCALL_STUB_SIZE)
			 : "memory", "rcx", "r11");
	return ret;
#else // SOLUTION(1)
	/* Lab 1: call slot nr of hypercall_page with the arguments in RDI, RSI, RDX, R10 and
	 * R8 (inline asm with register variables) and return RAX. */
	(void)nr, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5;
	lab_todo("lab 1: _hypercall not implemented");
	return -XEN_ENOSYS;
#endif // SOLUTION(1)
}

/* Typed wrappers, one per hypercall. */
static inline long HYPERVISOR_console_io(int cmd, int count, const char *buf)
{
	return _hypercall(__HYPERVISOR_console_io, (u64)cmd, (u64)(s64)count, (u64)buf, 0, 0);
}
static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{
	return _hypercall(__HYPERVISOR_sched_op, (u64)cmd, (u64)arg, 0, 0, 0);
}
static inline long HYPERVISOR_xen_version(int cmd, void *arg)
{
	return _hypercall(__HYPERVISOR_xen_version, (u64)cmd, (u64)arg, 0, 0, 0);
}
static inline long HYPERVISOR_multicall(struct multicall_entry *calls, unsigned nr)
{
	return _hypercall(__HYPERVISOR_multicall, (u64)calls, nr, 0, 0, 0);
}
static inline long HYPERVISOR_mmu_update(struct mmu_update *req, unsigned count, unsigned *done,
					 domid_t dom)
{
	return _hypercall(__HYPERVISOR_mmu_update, (u64)req, count, (u64)done, dom, 0);
}
static inline long HYPERVISOR_mmuext_op(struct mmuext_op *op, unsigned count, unsigned *done,
					domid_t dom)
{
	return _hypercall(__HYPERVISOR_mmuext_op, (u64)op, count, (u64)done, dom, 0);
}
static inline long HYPERVISOR_update_va_mapping(u64 va, u64 val, unsigned long flags)
{
	return _hypercall(__HYPERVISOR_update_va_mapping, va, val, flags, 0, 0);
}
static inline long HYPERVISOR_set_timer_op(u64 timeout)
{
	return _hypercall(__HYPERVISOR_set_timer_op, timeout, 0, 0, 0, 0);
}
static inline long HYPERVISOR_hvm_op(int cmd, void *arg)
{
	return _hypercall(__HYPERVISOR_hvm_op, (u64)cmd, (u64)arg, 0, 0, 0);
}
static inline long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
	return _hypercall(__HYPERVISOR_event_channel_op, (u64)cmd, (u64)arg, 0, 0, 0);
}
static inline long HYPERVISOR_memory_op(unsigned cmd, void *arg)
{
	return _hypercall(__HYPERVISOR_memory_op, cmd, (u64)arg, 0, 0, 0);
}

static inline long HYPERVISOR_grant_table_op(int cmd, void *ops, unsigned count)
{
	return _hypercall(__HYPERVISOR_grant_table_op, (u64)cmd, (u64)ops, count, 0, 0);
}
static inline long HYPERVISOR_domctl(struct xen_domctl *op)
{
	return _hypercall(__HYPERVISOR_domctl, (u64)op, 0, 0, 0, 0);
}
static inline long HYPERVISOR_pvlab_debug_op(int cmd, u64 arg)
{
	return _hypercall(__HYPERVISOR_pvlab_debug_op, (u64)cmd, arg, 0, 0, 0);
}

/* Batching: collect hypercalls and issue them as one multicall (hypercall.c). */
struct mc_batch {
	struct multicall_entry e[MULTICALL_MAX];
	unsigned n;
};
/* Queue op(a1..a5); flushes first if the batch is full.  Returns the entry's index. */
unsigned mc_add(struct mc_batch *b, unsigned op, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5);
/* Issue the queued calls.  Returns multicall's result (each entry has its own) and
 * empties the batch. */
long mc_flush(struct mc_batch *b);

/* For hostile tests only: enter the hypervisor with any RAX, even one no slot would set. */
long hypercall_raw(u64 nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5);

#endif
