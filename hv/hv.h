/*
 * The hypervisor proper: domains, the scheduler, exit handling and hypercalls.  Everything
 * here is vendor-neutral; it drives the CPU only through struct vcpu_ops (hv/vcpu.h).
 */
#ifndef PVLAB_HV_H
#define PVLAB_HV_H

#include "kern/kernel.h"
#include "hv/vcpu.h"
#include "public/xen.h"

#define MAX_DOMAINS 8
#define GUEST_MEM_MIN (2UL << 20)
#define GUEST_MEM_MAX (64UL << 20)
#define GUEST_MEM_DEFAULT (8UL << 20)
#define CONSOLE_LINE 160

enum dom_state { DOM_FREE, DOM_RUNNING, DOM_DYING, DOM_DEAD };

/* One event-channel port of a domain (public/event_channel.h).  state is EVTCHNSTAT_*;
 * remote_dom/remote_port: the peer (unbound: who may bind it; interdomain: the other end);
 * virq: the VIRQ_* of a virq port.  Port 0 is never used. */
struct evtchn {
	u8 state;
	u8 virq;
	domid_t remote_dom;
	u16 remote_port;
};

struct domain {
	domid_t id;
	enum dom_state state;
	bool privileged;		/* dom0 */
	struct vcpu vcpu;		/* one vCPU per domain for now */
	u64 nr_pages;			/* pseudo-physical frames 0 .. nr_pages-1 */
	u64 tot_pages;			/* frames it holds now (not shared info): lab 7 balloon */
	u64 max_pages;			/* tot_pages may never exceed this */
	u64 virt_base;			/* guest virtual address of pfn 0 */
	mfn_t start_info_mfn, shared_info_mfn, hypercall_mfn;
	mfn_t store_mfn;		/* lab 6: its store page and port (domUs; 0 in dom0) */
	u32 store_evtchn;
	char cmdline[MAX_GUEST_CMDLINE];
	/* How it ended */
	int shutdown_reason;		/* SHUTDOWN_*, valid once DYING or DEAD */
	char crash_why[96];		/* set when crashed by the hypervisor */
	bool destroying;		/* domain_destroy() has begun (it may take several calls) */
	/* Console: a line buffer so each line is printed whole with its "(dN) " prefix */
	char con[CONSOLE_LINE];
	unsigned con_len;
	bool time_stress;		/* lab 3 tests: see time_stress_step() */
	const char *lab_warned[64];	/* the stubs that said "lab N: ... not implemented" */
	/* Events (event.c given, evtchn.c lab 4).  With one vCPU per domain the virq bindings
	 * live here; Xen keeps them per vCPU. */
	struct evtchn evtchn[EVTCHN_MAX_PORTS];
	u16 virq_to_port[NR_VIRQS];	/* 0: not bound */
	bool polling;			/* lab 4: blocked in SCHEDOP_poll on poll_mask ... */
	u64 poll_mask[EVTCHN_MAX_PORTS / 64];
	u64 poll_deadline;		/* ... until this system time (0: none) */
};

/* The hypervisor's view of d's shared-info page, and of v's slot in it. */
static inline struct shared_info *shared_info_of(struct domain *d)
{
	return mfn_to_virt(d->shared_info_mfn);
}
static inline struct vcpu_info *vcpu_info_of(struct vcpu *v)
{
	return &shared_info_of(v->dom)->vcpu_info[v->id];
}

/* Per-subsystem hooks, so that a lab plugs into domain life and scheduling without editing
 * the builder or the scheduler: each subsystem declares one table, DOM_HOOKS(name, .hook = fn, ...);, and
 * leaves the hooks it does not need NULL.  Called in link order (teardown in reverse). */
struct dom_hooks {
	const char *name;
	void (*domain_init)(struct domain *d);	/* builder: d is complete, not yet run */
	void (*domain_destroy)(struct domain *d);	/* reap: d is dead, its frames not yet freed */
	void (*vcpu_init)(struct vcpu *v);	/* builder: after the backend created v */
	void (*switch_in)(struct vcpu *v);	/* scheduler: v is about to run a slice */
	void (*switch_out)(struct vcpu *v);	/* scheduler: v's slice ended */
	void (*timers)(u64 now);		/* scheduler: fire what is due at system time now */
	bool (*can_wake)(struct vcpu *v);	/* could something timed still wake blocked v? */
};
#define DOM_HOOKS(sub, ...)                                                               \
	static const struct dom_hooks __dom_hooks_##sub                                   \
		__attribute__((used, section(".dom_hooks"), aligned(8))) = { .name = #sub, __VA_ARGS__ }

/* hooks.c: run every subsystem's hook */
void hooks_domain_init(struct domain *d);
void hooks_domain_destroy(struct domain *d);
void hooks_vcpu_init(struct vcpu *v);
void hooks_switch_in(struct vcpu *v);
void hooks_switch_out(struct vcpu *v);
void hooks_timers(void);
bool hooks_can_wake(struct vcpu *v);

extern struct domain domains[MAX_DOMAINS];
extern struct vcpu *current;

/* domain.c: building and tearing down domains */
struct domain *domain_build(const char *spec, const void *elf, size_t elf_len, bool privileged);
void domain_shutdown(struct domain *d, int reason);
void domain_crash(struct domain *d, const char *fmt, ...) PRINTF(2, 3);
bool domain_destroy(struct domain *d, bool preemptible);	/* false: not done, call again */
struct domain *domain_by_id(domid_t id);	/* NULL unless it exists and is running */

/* sched.c */
NORETURN void sched_run(void);
void vcpu_block(struct vcpu *v);
void vcpu_wake(struct vcpu *v);
void sched_yield(void);
bool sched_slice_over(void);
long do_sched_op(struct vcpu *v, u64 cmd, u64 arg);
extern unsigned sched_slice_ms;

/* fpu.c: each vCPU's x87/SSE registers, switched eagerly or (lab 8) lazily */
void fpu_init(struct vcpu *v);
void fpu_switch_to(struct vcpu *v);
void fpu_release(struct vcpu *v);
bool fpu_nm_exit(struct vcpu *v);
long do_fpu_taskswitch(struct vcpu *v, u64 set, u64 a2, u64 a3, u64 a4, u64 a5);
extern bool fpu_lazy;

/* exit.c */
void handle_exit(struct vcpu *v, struct vm_exit *e);
extern volatile u64 hv_heartbeat;
extern u64 hv_exit_total;
void inject_exception(struct vcpu *v, u8 vector, u32 err);
void guest_dump(struct vcpu *v);

/* emunic.c (lab 6): the emulated NIC's I/O ports */
bool emunic_owns_port(u16 port);
bool emunic_io(struct vcpu *v, const struct vm_exit *e);

/* cpuid.c (lab 0) */
struct cpuid_regs {
	u32 eax, ebx, ecx, edx;
};
void cpuid_filter(u32 leaf, u32 subleaf, struct cpuid_regs *r);
#define PVLAB_CPUID_BASE 0x40000000
#define PVLAB_CPUID_SIGNATURE "PvLabPvLabHV"	/* EBX, ECX, EDX of leaf 0x40000000 */

/* guestmem.c (lab 1): the only way the hypervisor touches guest virtual memory */
int guest_walk(struct vcpu *v, u64 va, bool write, paddr_t *ma);
/* 0 if the guest could access all of [va, va + n) (for writing if `write`), else -XEN_EFAULT */
long guest_access_ok(struct vcpu *v, u64 va, size_t n, bool write);
long copy_from_guest(struct vcpu *v, void *dst, u64 src, size_t n);
long copy_to_guest(struct vcpu *v, u64 dst, const void *src, size_t n);
long copy_string_from_guest(struct vcpu *v, char *dst, u64 src, size_t size);

/* mm.c (lab 2): direct paging */
int get_page(struct domain *d, mfn_t mfn);
void put_page(mfn_t mfn);
int get_page_type(struct domain *d, mfn_t mfn, int type);
void put_page_type(mfn_t mfn);
void share_page_with_guest(struct domain *d, mfn_t mfn);	/* every page we write while d runs */
bool is_pinned_l4(struct domain *d, mfn_t mfn);
void set_baseptr(struct vcpu *v, mfn_t mfn);
long do_mmu_update(struct vcpu *v, u64 reqs, u64 count, u64 done, u64 domid, u64);
long do_mmuext_op(struct vcpu *v, u64 ops, u64 count, u64 done, u64 domid, u64);
long do_update_va_mapping(struct vcpu *v, u64 va, u64 val, u64 flags, u64, u64);
long mm_audit(struct domain *d);
bool mm_teardown(struct domain *d, u64 deadline);
long mm_host_map(struct domain *d, u64 va, mfn_t mfn, bool writable);	/* grant mappings (lab 5) */
long mm_host_unmap(struct domain *d, u64 va, mfn_t mfn);

/* memory.c (lab 7): the reservation, for balloon drivers */
long do_memory_op(struct vcpu *v, u64 cmd, u64 arg, u64, u64, u64);

/* time.c (lab 3): PV time and the one-shot timer */
void time_init(void);
u64 system_time(void);
void time_update(struct domain *d);
void wallclock_init(struct domain *d);
void time_stress_step(struct domain *d);
void time_stress_set(struct domain *d, bool on);
void timers_check(void);
long do_set_timer_op(struct vcpu *v, u64 timeout, u64, u64, u64, u64);

/* event.c (lab 3): events and upcalls */
void evtchn_set_pending(struct vcpu *v, unsigned port);
void send_guest_virq(struct vcpu *v, unsigned virq);
void event_deliver(struct vcpu *v);
bool event_pending(struct vcpu *v);
void event_block(struct vcpu *v);
long do_hvm_op(struct vcpu *v, u64 cmd, u64 arg, u64, u64, u64);

/* evtchn.c (lab 4): event channels */
void evtchn_raise(struct domain *d, unsigned port);
long do_event_channel_op(struct vcpu *v, u64 cmd, u64 arg, u64, u64, u64);
long do_poll(struct vcpu *v, u64 arg);
long evtchn_alloc_store_port(struct domain *d, domid_t remote);	/* builder (lab 6) */

/* grant.c (lab 5): grant tables */
long do_grant_table_op(struct vcpu *v, u64 cmd, u64 uop, u64 count, u64, u64);
long gnttab_grant_store_page(struct domain *d);	/* builder (lab 6): ref 1 -> dom0 */

/* domctl.c (lab 6, given): dom0 inspects domains */
long do_domctl(struct vcpu *v, u64 op, u64, u64, u64, u64);

/* hypercall.c (lab 1) */
typedef long (*hypercall_fn)(struct vcpu *v, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5);
void hypercall_entry(struct vcpu *v, struct vm_exit *e);
long hypercall_call(struct vcpu *v, u64 nr, const u64 args[5]);
void hypercall_exit(struct vcpu *v, struct vm_exit *e);
/* Continuations (XSA-45): a long hypercall checks hypercall_preempt_check() between pieces
 * of work and, when it says so, returns hypercall_create_continuation(v, op, args advanced
 * past the work done).  The guest re-executes the call at the start of its next slice, so
 * each entry makes progress. */
bool hypercall_preempt_check(void);
long hypercall_create_continuation(struct vcpu *v, u64 op, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5);
long multicall_run_entry(struct vcpu *v, struct multicall_entry *mc, bool *again);
long do_multicall(struct vcpu *v, u64 calls, u64 nr_calls, u64, u64, u64);
long do_xen_version(struct vcpu *v, u64 cmd, u64 arg, u64, u64, u64);
long do_debug_op(struct vcpu *v, u64 cmd, u64 arg, u64, u64, u64);

/* trace.c: the exit trace, the last VM exits (crash dumps; GDB's `pvlab trace`); the
 * recording half is inline in trace.h */
#define TRACE_DUMP 16		/* exits a crash dump shows */
void trace_dump(int dom, unsigned n);	/* dom < 0: every domain's */

/* console.c */
void guest_console_putc(struct domain *d, char c);
void guest_console_flush(struct domain *d);
void guest_console_log(struct domain *d, const char *s);
long do_console_io(struct vcpu *v, u64 cmd, u64 count, u64 buffer, u64, u64);

/* Print "lab N: <what> not implemented" once per domain, so a stub is easy to spot. */
void lab_stub_warn(struct vcpu *v, int lab, const char *what);

#endif
