/*
 * The pvlab PV guest kernel: a small Mini-OS.  It boots from start_info, talks to the
 * hypervisor only through hypercalls (and the port-0xE9 debug console as a fallback), and
 * runs the tests named on its command line.
 */
#ifndef PVLAB_GUEST_KERNEL_H
#define PVLAB_GUEST_KERNEL_H

#include "lib.h"
#include "x86/hw.h"
#include "x86/asm.h"
#include "public/xen.h"
#include "guest/hypercall.h"
#include "public/io/xenbus.h"

extern struct start_info *start_info;
extern u64 *phys_to_machine;	/* start_info->mfn_list: the P2M */

/* console.c */
void console_write(const char *s, size_t n);
int printf(const char *fmt, ...) PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap);
NORETURN void panic(const char *fmt, ...) PRINTF(1, 2);
NORETURN void guest_exit(unsigned reason);
extern bool console_via_hypercall;

/* trap.c: exceptions.  Code that expects a fault marks the instruction with EXTABLE(); the
 * trap handler then records the fault in last_fault and resumes at the fixup label. */
struct fault {
	int vector;		/* -1: none */
	u64 err, cr2;
};
extern volatile struct fault last_fault;
/* Tests: if set, a #DB (single step) calls it with the interrupted RFLAGS and resumes with
 * the RFLAGS it returns (clear RFLAGS_TF to stop stepping). */
extern u64 (*single_step_hook)(u64 rflags);
#define EXTABLE(insn, fixup) \
	".pushsection .extable, \"a\"\n .balign 8\n .quad " #insn ", " #fixup "\n .popsection\n"
void trap_init(void);
static inline void fault_reset(void) { last_fault.vector = -1; }
/* Run user_fn(arg) in ring 3 and return its result (lab 1's -EPERM test). */
long run_in_user_mode(long (*user_fn)(void *), void *arg);

/* mm.c: memory, pseudo-physical frame numbers, machine frame numbers */
#define GUEST_MAX_PFNS (64 * 256)	/* 64 MiB, the largest domain */
#define INVALID_MFN (~0ULL)		/* P2M entry of a pfn with no frame (ballooned out) */
#define INVALID_PFN (~0ULL)
enum pfn_state { PFN_FREE, PFN_USED, PFN_BALLOONED, PFN_INVALID };
void mm_init(void);
void *alloc_page(void);			/* a zeroed page; panics when there is none */
void *alloc_page_try(void);		/* a zeroed page, or NULL */
void free_page(void *va);
u64 mm_free_pages(void);		/* how many pages alloc_page() can still give */
enum pfn_state mm_pfn_state(u64 pfn);
void mm_pfn_ballooned(u64 pfn);		/* lab 7: an unmapped page in use went to the hypervisor */
void mm_pfn_populated(u64 pfn);		/* lab 7: ... and is back, mapped: in use */
u64 mm_ballooned_pages(void);		/* how many pfns are ballooned out */
u64 virt_to_pfn(const void *va);
u64 virt_to_mfn(const void *va);
void *pfn_to_virt(u64 pfn);
extern u64 virt_base, first_free_pfn;

/* paging.c (lab 2): the guest's side of direct paging.  Page tables are read-only to us;
 * every change is a validated hypercall. */
u64 mfn_to_pfn(u64 mfn);			/* INVALID_PFN if not one of our frames */
void *mfn_to_virt(u64 mfn);
u64 current_l4(void);				/* mfn of the live top-level table */
long mmuext(unsigned cmd, u64 arg);		/* one mmuext_op on DOMID_SELF */
u64 new_table(void);				/* a zeroed page, remapped read-only: its mfn */
long map_page(u64 l4, u64 va, u64 mfn, u64 flags);	/* in the space rooted at mfn l4 */
long unmap_page(u64 l4, u64 va);
pte_t *find_pte(u64 l4, u64 va);		/* the L1 entry for va, or NULL */
u64 new_address_space(void);			/* a pinned copy of the current L4: its mfn */
struct pt_batch {
	struct mmu_update u[64];
	unsigned n;
};
void pt_batch_add(struct pt_batch *b, u64 pte_ma, u64 val);	/* flushes when full */
long pt_batch_flush(struct pt_batch *b);	/* one mmu_update for everything queued */

/* time.c (lab 3): shared info and PV time */
#define SHARED_INFO_VA 0x7f0000000ULL	/* where time_init() maps the shared-info page */
#define UPCALL_VECTOR 0xf3
extern struct shared_info *shared_info;
long time_init(void);			/* map shared info, register the upcall: 0 or error */
u64 get_system_time(void);		/* ns since boot */
void get_wallclock(u64 *sec, u32 *nsec);	/* now, in seconds and ns since 1970 */
void sleep_ns(u64 ns);			/* block (not spin) for at least ns */

/* events.c (lab 3, lab 4): the event upcall and the handler table */
void evtchn_upcall(void);		/* the callback vector's handler */
typedef void (*evtchn_handler_t)(unsigned port);
void evtchn_set_handler(unsigned port, evtchn_handler_t h);
extern volatile u64 upcalls;		/* how many upcalls arrived */
/* lab 4: ports with handlers (run in the upcall); each returns the port or -XEN_Exxx */
long evtchn_alloc_unbound(domid_t remote, evtchn_handler_t h);	/* remote: DOMID_SELF ok */
long evtchn_bind_interdomain(domid_t dom, unsigned rport, evtchn_handler_t h);
long evtchn_bind_virq(unsigned virq, evtchn_handler_t h);
long evtchn_unbind(unsigned port);		/* close: 0 or error */
long evtchn_notify(unsigned port);		/* signal the other end: 0 or error */
void evtchn_mask(unsigned port);
long evtchn_unmask(unsigned port);		/* delivers what arrived while masked */
long wait_for_event(unsigned port, u64 timeout_ns);	/* 0, or -XEN_ETIMEDOUT */

/* balloon.c (lab 7): give memory back to the hypervisor and take it again.  The target
 * comes from the command line (balloon_target=PAGES), or from the store: the test
 * store-balloon watches memory/target (pages, written by dom0) and calls
 * balloon_set_target() with it. */
#define BALLOON_BATCH 512			/* extents per memory_op */
long balloon_set_target(u64 target);		/* pages the domain should hold: the pages it holds after */
long balloon_inflate(u64 n);			/* give back up to n pages (one batch): how many went */
long balloon_deflate(u64 n);			/* take back up to n pages (one batch): how many came */
u64 balloon_current(void);			/* pages we hold: nr_pages - ballooned */

/* thread.c, fpu.c (lab 8): cooperative threads, each with its own FPU state, switched
 * lazily (CR0.TS through fpu_taskswitch, then #NM) */
#define MAX_THREADS 8
struct thread {
	u64 rsp;			/* saved while it does not run */
	int id;
	bool done;
	void (*fn)(void *);
	void *arg;
	u64 fpu_traps;			/* #NM taken by this thread (tests, bench) */
	struct fxsave_area fpu;		/* its FPU/SSE registers while another thread has them */
};
extern struct thread *thread_current, *fpu_owner_thread;
extern bool threads_fpu_eager;		/* bench: eager switching in the guest instead */
struct thread *thread_create(void (*fn)(void *), void *arg);
void thread_yield(void);
void thread_join_all(void);
void fpu_thread_init(struct thread *t);
void fpu_thread_switch(struct thread *next);
bool fpu_nm_trap(void);			/* trap.c: true if the #NM was lazy switching */
static inline long HYPERVISOR_fpu_taskswitch(int set)
{
	return _hypercall(__HYPERVISOR_fpu_taskswitch, (u64)set, 0, 0, 0, 0);
}

/* grant.c (lab 5): grant tables.  Each returns 0 (or a ref, a handle) or a negative
 * GNTST_* / -XEN_* error. */
#define GNTTAB_VA 0x7f0010000ULL		/* where gnttab_init() maps our table's frames */
#define GNTTAB_NR_FRAMES 1			/* what gnttab_init() asks for: refs 8..511 */
extern struct grant_entry_v1 *gnttab;
long gnttab_init(void);				/* set up and map our table; the free list */
long grant_foreign_access(domid_t domid, u64 mfn, bool readonly);	/* a new ref */
long gnttab_end_foreign_access(grant_ref_t ref);	/* revoke and free: -XEN_EBUSY while in use */
long gnttab_map(domid_t dom, grant_ref_t ref, u64 va, bool readonly);	/* a handle */
long gnttab_unmap(u64 va, grant_handle_t handle);
long gnttab_prepare_va(u64 va);			/* make sure an L1 table covers va, empty there */

/* xenbus.c (lab 6): the store.  Paths are absolute (/local/domain/1/device/vif/0/state) or
 * relative to the caller's /local/domain/<id>/; public/io/xs_wire.h has the limits, and
 * watch events report absolute paths.  The same calls work in dom0 (locally: dom0 is the
 * store) and in a domU (over its ring, blocking for the reply: never from an event
 * handler; a store that does not answer within 10 s gives -XEN_EIO). */
long xenbus_init(void);  /* domU: attach to start_info's store page and port; dom0: start the server
                            (xenstored_init). 0 or -XEN_Exxx */
long xenbus_read(const char *path, char *buf, size_t len);  /* NUL-terminated value into buf: its length,
                            or -XEN_ENOENT, -XEN_EACCES, -XEN_E2BIG (buf too small), -XEN_EIO */
long xenbus_write(const char *path, const char *value);     /* 0 or -XEN_EACCES, -XEN_ENOSPC, -XEN_EINVAL */
long xenbus_printf(const char *path, const char *fmt, ...) PRINTF(2, 3);  /* write a formatted value */
long xenbus_read_u64(const char *path, u64 *val);           /* a decimal value: 0 or -XEN_Exxx */
long xenbus_rm(const char *path);                            /* the node and its children */
long xenbus_watch(const char *path);   /* fires once now, then on every change at/below path */
long xenbus_unwatch(const char *path);
bool xenbus_watch_pop(char *path, size_t len);  /* non-blocking: a fired watch's changed path */
bool xenbus_watch_lost(void);	/* were fired watches dropped (queue full) since the last call?
				 * Then re-read whatever you watch: watches are hints, state is truth */
long xenbus_wait_watch(char *path, size_t len, u64 timeout_ns);  /* block until a watch fires: 0, or
                            -XEN_ETIMEDOUT. In dom0 it serves the store while it waits. */
long xenbus_directory(const char *path, char *buf, size_t len);  /* the children's names, each
                            NUL-terminated, into buf: how many, or -XEN_Exxx */
/* dom0 only */
long xenstored_init(void);
unsigned xenstored_poll(void);   /* serve everything pending on every domain's ring, non-blocking;
                                    returns how many messages it handled */
bool xenstored_pending(void);    /* an event arrived on a store port since the last poll */

/* emunic.c (lab 6): the emulated NIC's driver (public/io/emunic.h), every access a VM exit.
 * Sends return 0, -XEN_EAGAIN (the receiver's queue is full: the frame stays in the
 * device, so retry with emunic_resend()), -XEN_ESRCH (no such domain) or -XEN_EINVAL. */
long emunic_send(domid_t dst, const void *buf, unsigned len);
long emunic_resend(domid_t dst);
long emunic_recv(void *buf, unsigned max, domid_t *src);	/* length, 0 = none, -XEN_E2BIG */
u32 emunic_reg(unsigned reg);			/* IN from register reg (EMUNIC_*) */

/* time: a busy wait of roughly `cycles` TSC ticks (before lab 3's PV clock exists) */
static inline void spin_tsc(u64 cycles)
{
	u64 end = rdtsc() + cycles;
	while (rdtsc() < end)
		pause();
}

#endif
