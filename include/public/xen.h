/*
 * pvlab's public ABI: everything a PV guest and the hypervisor agree on.
 *
 * It follows Xen's x86-64 PV interface (xen/include/public/xen.h and friends): the same
 * hypercall numbers, calling convention, structure layouts and error numbers, so that Xen's
 * documentation and Mini-OS read as a second reference.  Where pvlab adds something of its own
 * it says so ("pvlab:").
 *
 * Reading guide: each operation number stands right above its argument structure; fields are
 * marked IN (guest -> hypervisor) or OUT (hypervisor -> guest); the errors an operation returns
 * are listed next to it.  As in Xen, the ABI is split by subsystem: public/sched.h,
 * public/event_channel.h, public/grant_table.h, public/memory.h are included below;
 * public/io/ring.h is for split drivers.
 *
 * CALLING CONVENTION (64-bit)
 *   A guest calls hypercall N by `call hypercall_page + N * 32`.  The hypervisor fills each
 *   32-byte slot of the hypercall page when it builds the domain with `mov $N, %eax; vmmcall`
 *   (AMD) or `...; vmcall` (Intel), then `ret` -- so a guest never hard-codes the vendor's
 *   instruction.
 *     RAX = hypercall number      RDI, RSI, RDX, R10, R8 = arguments 1..5
 *     RAX = result: >= 0 success, or a negative errno (-XEN_EFAULT, ...)
 *   RDI, RSI, RDX, R10 and R8 may come back changed: a long hypercall is preempted and
 *   continued (Xen's continuations) by re-executing it with its arguments advanced.  Every
 *   other register is preserved.  Hypercalls are allowed only from guest ring 0; from user
 *   mode they return -XEN_EPERM (as Xen since XSA-76).
 */
#ifndef PVLAB_PUBLIC_XEN_H
#define PVLAB_PUBLIC_XEN_H

#include "types.h"

/* ---------------------------------------------------------------------------------------
 * Errors (Xen's public/errno.h; the values are Linux's).  Hypercalls return -XEN_Exxx.
 */
#define XEN_EPERM	1	/* not allowed (not privileged, wrong ring) */
#define XEN_ENOENT	2	/* no such object */
#define XEN_ESRCH	3	/* no such domain */
#define XEN_EINTR	4
#define XEN_EIO		5
#define XEN_E2BIG	7
#define XEN_EBADF	9
#define XEN_EAGAIN	11
#define XEN_ENOMEM	12
#define XEN_EACCES	13
#define XEN_EFAULT	14	/* a guest pointer could not be read or written */
#define XEN_EBUSY	16	/* object in use (a pinned table, a mapped grant) */
#define XEN_EEXIST	17
#define XEN_EXDEV	18
#define XEN_EINVAL	22	/* an argument is out of range */
#define XEN_ENOSPC	28
#define XEN_ERANGE	34
#define XEN_ENOSYS	38	/* no such hypercall or sub-operation */
#define XEN_ENOTEMPTY	39
#define XEN_ETIMEDOUT	110	/* pvlab's guest: wait_for_event() gave up */

/* ---------------------------------------------------------------------------------------
 * Hypercall numbers (Xen's).  The lab that implements each one is on the right.
 */
#define __HYPERVISOR_set_trap_table		0
#define __HYPERVISOR_mmu_update			1	/* lab 2 */
#define __HYPERVISOR_set_gdt			2
#define __HYPERVISOR_stack_switch		3
#define __HYPERVISOR_set_callbacks		4
#define __HYPERVISOR_fpu_taskswitch		5	/* lab 8 */
#define __HYPERVISOR_sched_op_compat		6
#define __HYPERVISOR_platform_op		7
#define __HYPERVISOR_set_debugreg		8
#define __HYPERVISOR_get_debugreg		9
#define __HYPERVISOR_update_descriptor		10
#define __HYPERVISOR_memory_op			12	/* lab 7 */
#define __HYPERVISOR_multicall			13	/* lab 1 */
#define __HYPERVISOR_update_va_mapping		14	/* lab 2 */
#define __HYPERVISOR_set_timer_op		15	/* lab 3 */
#define __HYPERVISOR_event_channel_op_compat	16
#define __HYPERVISOR_xen_version		17	/* core */
#define __HYPERVISOR_console_io			18	/* lab 1 */
#define __HYPERVISOR_physdev_op_compat		19
#define __HYPERVISOR_grant_table_op		20	/* lab 5 */
#define __HYPERVISOR_vm_assist			21
#define __HYPERVISOR_update_va_mapping_otherdomain 22
#define __HYPERVISOR_iret			23
#define __HYPERVISOR_vcpu_op			24
#define __HYPERVISOR_set_segment_base		25
#define __HYPERVISOR_mmuext_op			26	/* lab 2 */
#define __HYPERVISOR_xsm_op			27
#define __HYPERVISOR_nmi_op			28
#define __HYPERVISOR_sched_op			29	/* core */
#define __HYPERVISOR_callback_op		30	/* not yet: lab 3 uses hvm_op */
#define __HYPERVISOR_xenoprof_op		31
#define __HYPERVISOR_event_channel_op		32	/* lab 4 */
#define __HYPERVISOR_physdev_op			33
#define __HYPERVISOR_hvm_op			34
#define __HYPERVISOR_sysctl			35
#define __HYPERVISOR_domctl			36	/* lab 6: public/domctl.h */
#define __HYPERVISOR_arch_0			48
#define __HYPERVISOR_pvlab_debug_op		__HYPERVISOR_arch_0	/* pvlab: tests */
#define NR_HYPERCALLS				56	/* table size; numbers >= this: -ENOSYS */
#define HYPERCALL_STUB_SIZE			32	/* bytes per hypercall-page slot */

/* ---------------------------------------------------------------------------------------
 * Domain identifiers.
 */
typedef u16 domid_t;
#define DOMID_FIRST_RESERVED	0x7ff0
#define DOMID_SELF		0x7ff0	/* "the calling domain" wherever a domid is taken */
#define DOMID_IO		0x7ff1
#define DOMID_XEN		0x7ff2
#define DOMID_INVALID		0x7ff4

typedef u64 xen_pfn_t;	/* a frame number: guest pseudo-physical (pfn) or machine (mfn) */

#include "public/event_channel.h"	/* event_channel_op, VIRQs (lab 4) */

/* ---------------------------------------------------------------------------------------
 * console_io(int cmd, int count, const char *buffer)                               lab 1
 *   CONSOLEIO_write: print `count` bytes at guest virtual `buffer` on the hypervisor
 *   console; lines appear prefixed "(dN) ".  Returns 0.
 *     -XEN_EINVAL  count < 0 or count > CONSOLEIO_MAX
 *     -XEN_EFAULT  buffer (any byte of it) not readable by the guest
 *   CONSOLEIO_read is not provided (-XEN_ENOSYS).
 */
#define CONSOLEIO_write		0
#define CONSOLEIO_read		1
#define CONSOLEIO_MAX		(16 * 1024)	/* pvlab: longest single write */

#include "public/sched.h"		/* sched_op: yield, block, shutdown, poll */

/* ---------------------------------------------------------------------------------------
 * xen_version(int cmd, void *arg)                                                   core
 */
#define XENVER_version		0	/* arg unused.  Returns (major << 16) | minor */
#define XENVER_extraversion	1	/* OUT arg: xen_extraversion_t.  Returns 0 or -EFAULT */
typedef char xen_extraversion_t[16];
#define XENVER_capabilities	3	/* OUT arg: xen_capabilities_info_t, all 1024 bytes
					 * written (the string, NUL-padded) as in Xen.
					 * Returns 0 or -EFAULT */
typedef char xen_capabilities_info_t[1024];
#define XENVER_get_features	6	/* not yet */
#define PVLAB_VERSION_MAJOR	4
#define PVLAB_VERSION_MINOR	19

/* ---------------------------------------------------------------------------------------
 * multicall(struct multicall_entry *calls, unsigned int nr_calls)                  lab 1
 *   Runs each entry's hypercall in order and stores its return value in entry.result.
 *   Returns 0 once the batch is over: every entry ran (each has its own result), or an
 *   entry shut the domain down (SCHEDOP_shutdown), which ends the batch there.  Or:
 *     -XEN_EINVAL  nr_calls > MULTICALL_MAX (nothing ran)
 *     -XEN_EFAULT  an entry could not be read or its result written: entries before it ran
 *   A multicall entry that is itself a multicall gets result -XEN_EINVAL (no nesting).
 *   A long batch is preempted between entries and continued; an entry that is itself
 *   preempted (a long mmu_update, say) is continued with its args[] rewritten in place, so
 *   after the call an entry's args may differ from what the guest wrote.
 */
struct multicall_entry {
	u64 op;		/* IN: hypercall number */
	u64 result;	/* OUT: that hypercall's return value */
	u64 args[6];	/* IN: its arguments */
};
STATIC_ASSERT(sizeof(struct multicall_entry) == 64);
#define MULTICALL_MAX		64	/* pvlab: longest batch */

/* ---------------------------------------------------------------------------------------
 * mmu_update(struct mmu_update *req, unsigned count, unsigned *done, domid_t dom)  lab 2
 *   Applies count requests in order, stopping at the first that fails; *done (if done is
 *   not NULL) = how many succeeded.  Returns 0 when all did, or the failing one's error:
 *     -XEN_EINVAL  count > MMU_UPDATE_MAX (nothing done); ptr not 8-byte aligned, or not
 *                  into a validated page table (or, for MMU_MACHPHYS_UPDATE, a frame) of
 *                  the caller's; val maps a frame that is not the caller's, sets a reserved
 *                  bit or bit 7 above L1 (PS: no superpages; in an L1 entry it is PAT,
 *                  allowed)
 *     -XEN_EBUSY   val needs a frame as a type it cannot take now: a table or a frame the
 *                  hypervisor writes (shared info) as a table, a table mapped writable, or
 *                  an L4 entry pointing at an L4 (linear page tables: see below)
 *     -XEN_EPERM   dom is not DOMID_SELF (or the caller's own id)
 *     -XEN_EFAULT  req (an entry of it) unreadable, or done unwritable
 *     -XEN_ENOSYS  an unknown command in ptr's bits 1:0
 *   A long batch is preempted and continued (see the calling convention): bit 31 of count
 *   is reserved for that (MMU_UPDATE_PREEMPTED inside the hypervisor: the count so far is
 *   then read back from *done).  A request that hooks or pins a whole unvalidated tree is
 *   preempted inside too: the tables below are validated ahead and stay typed (as tables)
 *   until the request is over -- or, if the guest abandons the continuation, until its next
 *   mmu_update/mmuext_op batch ends; tables unhooked are released afterwards.
 *   pvlab: no linear page tables.  Xen lets an L4 entry point read-only at an L4 (a
 *   "linear" self-map, the pv-linear-pt option); pvlab refuses it with -XEN_EBUSY, since its
 *   history is a run of escapes (XSA-182, XSA-240) and no pvlab guest needs it.
 *
 * mmuext_op(struct mmuext_op *op, unsigned count, unsigned *done, domid_t dom)     lab 2
 *   The same batch rules (count <= MMU_UPDATE_MAX, *done, -XEN_EPERM, -XEN_EFAULT,
 *   preemption); per operation:
 *     PIN_Ln_TABLE  -XEN_EINVAL not the caller's frame, already pinned, or an entry invalid
 *                   (as for mmu_update); -XEN_EBUSY in use as another type
 *     UNPIN_TABLE   -XEN_EINVAL not the caller's pinned frame; -XEN_EBUSY the live CR3
 *     NEW_BASEPTR   -XEN_EINVAL not a pinned L4 of the caller's
 *     INVLPG_LOCAL  -XEN_EINVAL a non-canonical address (XSA-279)
 *     other cmd     -XEN_ENOSYS
 *
 * update_va_mapping(unsigned long va, u64 val, unsigned long flags)                lab 2
 *   Sets the L1 entry that maps va in the current address space, as one mmu_update would
 *   (the same -XEN_EINVAL and -XEN_EBUSY cases).  Returns 0, or:
 *     -XEN_EINVAL  va non-canonical (XSA-279), no L1 table maps va, or an unknown flag
 *                  (anything outside UVMF_FLUSHTYPE_MASK | UVMF_ALL)
 */
#define MMU_NORMAL_PT_UPDATE	0	/* ptr = machine address of a PTE; val = new PTE */
#define MMU_MACHPHYS_UPDATE	1	/* ptr = machine address of a frame; val = its pfn */
#define MMU_PT_UPDATE_PRESERVE_AD 2
#define MMU_UPDATE_MAX		4096	/* pvlab: longest mmu_update / mmuext_op batch */
struct mmu_update {
	u64 ptr;	/* IN: machine address, command in bits 1:0 */
	u64 val;	/* IN */
};
#define MMUEXT_PIN_L1_TABLE	0
#define MMUEXT_PIN_L2_TABLE	1
#define MMUEXT_PIN_L3_TABLE	2
#define MMUEXT_PIN_L4_TABLE	3
#define MMUEXT_UNPIN_TABLE	4
#define MMUEXT_NEW_BASEPTR	5
#define MMUEXT_TLB_FLUSH_LOCAL	6
#define MMUEXT_INVLPG_LOCAL	7
struct mmuext_op {
	unsigned int cmd;	/* IN: MMUEXT_* */
	unsigned int pad;
	union {
		xen_pfn_t mfn;		/* IN: PIN_*, UNPIN_TABLE, NEW_BASEPTR */
		u64 linear_addr;	/* IN: INVLPG_LOCAL */
	} arg1;
	union {
		unsigned int nr_ents;
		const void *vcpumask;
		xen_pfn_t src_mfn;
	} arg2;
};
#define UVMF_NONE		0
#define UVMF_TLB_FLUSH		1
#define UVMF_INVLPG		2
#define UVMF_FLUSHTYPE_MASK	3
#define UVMF_LOCAL		0
#define UVMF_ALL		4

/* ---------------------------------------------------------------------------------------
 * set_timer_op(u64 timeout)                                                         lab 3
 *   Arm this vCPU's one-shot timer for system time `timeout` (ns since boot, as in
 *   vcpu_time_info); 0 cancels.  A timeout already in the past fires at once -- and, the
 *   time being signed as Xen's s_time_t, so does any timeout with bit 63 set.  On expiry
 *   the vCPU gets VIRQ_TIMER.  Returns 0.
 *   (Events and VIRQ_TIMER: public/event_channel.h.)
 */

/* ---------------------------------------------------------------------------------------
 * fpu_taskswitch(int set)                                                            lab 8
 *   set != 0: set this vCPU's CR0.TS, so that its next x87/MMX/SSE instruction raises #NM
 *   in the guest (its handler then calls fpu_taskswitch(0) and restores the state of the
 *   thread now running); set == 0: clear it.  The guest's own TS, which MOV from CR0
 *   reads: the TS the hypervisor may set underneath for its own lazy switching is never
 *   visible to the guest, nor are its #NM exceptions delivered to it.  Returns 0.
 */

/* ---------------------------------------------------------------------------------------
 * hvm_op(int cmd, void *arg): only the callback vector, as Xen's PVHVM guests set it. lab 3
 */
#define HVMOP_set_param		0
struct xen_hvm_param {
	domid_t domid;		/* IN: DOMID_SELF */
	u16 pad;
	u32 index;		/* IN: HVM_PARAM_* */
	u64 value;		/* IN */
};
#define HVM_PARAM_CALLBACK_IRQ	0
/* value = HVM_PARAM_CALLBACK_TYPE_VECTOR << 56 | vector (32..255); 0 turns upcalls off.
 *   -XEN_EINVAL  another type, a vector below 32, or an unknown index
 *   -XEN_EPERM   a domid other than DOMID_SELF */
#define HVM_PARAM_CALLBACK_TYPE_VECTOR 2ULL

/* ---------------------------------------------------------------------------------------
 * Shared info: one page per domain, written by the hypervisor, read by the guest; its
 * machine address is start_info.shared_info.                                      lab 3
 */
#define XEN_LEGACY_MAX_VCPUS	32

struct vcpu_time_info {
	u32 version;		/* OUT: odd while the hypervisor updates the record */
	u32 pad0;
	u64 tsc_timestamp;	/* OUT: TSC at the last update */
	u64 system_time;	/* OUT: ns since boot at the last update */
	/* Current system time = system_time + ((tsc - tsc_timestamp) << tsc_shift
	 * (>> -tsc_shift if negative)) * tsc_to_system_mul >> 32 */
	u32 tsc_to_system_mul;	/* OUT */
	s8 tsc_shift;		/* OUT */
	u8 flags;
	u8 pad1[2];
};
STATIC_ASSERT(sizeof(struct vcpu_time_info) == 32);

struct arch_vcpu_info {
	u64 cr2;
	u64 pad;
};

struct vcpu_info {
	u8 evtchn_upcall_pending;	/* OUT: an event is pending */
	u8 evtchn_upcall_mask;		/* IN: 1 = do not deliver upcalls now */
	u8 pad0[6];
	u64 evtchn_pending_sel;		/* OUT: which words of evtchn_pending to scan */
	struct arch_vcpu_info arch;
	struct vcpu_time_info time;
};
STATIC_ASSERT(sizeof(struct vcpu_info) == 64);

struct arch_shared_info {
	u64 max_pfn;
	u64 pfn_to_mfn_frame_list_list;
	u64 nmi_reason;
	u64 p2m_cr3;
	u64 p2m_vaddr;
	u64 p2m_generation;
};

struct shared_info {
	struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
	u64 evtchn_pending[64];		/* OUT: one bit per event-channel port (lab 4) */
	u64 evtchn_mask[64];		/* IN: 1 = port masked (lab 4) */
	u32 wc_version;			/* OUT: wall clock, same version protocol */
	u32 wc_sec;			/* OUT: seconds since 1970 at system time 0 */
	u32 wc_nsec;			/* OUT */
	u32 wc_sec_hi;
	struct arch_shared_info arch;
};
STATIC_ASSERT(sizeof(struct shared_info) <= 4096);

/* ---------------------------------------------------------------------------------------
 * start_info: the page whose virtual address is in RSI when a PV guest starts.
 * (Xen's layout; all addresses are guest virtual unless marked MACHINE.)
 */
#define MAX_GUEST_CMDLINE	1024
struct start_info {
	char magic[32];		/* "xen-3.0-x86_64" */
	u64 nr_pages;		/* total pages of this domain */
	u64 shared_info;	/* MACHINE address of the shared info page */
	u32 flags;		/* SIF_* */
	u32 pad0;
	xen_pfn_t store_mfn;	/* MACHINE frame of this domU's store page (lab 6: public/io/
				 * xs_wire.h); 0 in dom0, which is the store */
	u32 store_evtchn;	/* this domU's port to the store (unbound, for dom0); 0 in dom0 */
	u32 pad1;
	union {
		struct {
			xen_pfn_t mfn;
			u32 evtchn;
			u32 pad;
		} domU;
		struct {
			u32 info_off;
			u32 info_size;
		} dom0;
	} console;		/* reserved: pvlab's console is console_io */
	u64 pt_base;		/* VIRTUAL address of the L4 page table */
	u64 nr_pt_frames;	/* number of initial page-table frames */
	u64 mfn_list;		/* VIRTUAL address of the P2M: mfn_list[pfn] = mfn */
	u64 mod_start;		/* unused */
	u64 mod_len;		/* unused */
	char cmd_line[MAX_GUEST_CMDLINE];	/* the domain's command line */
	u64 first_p2m_pfn;	/* pfn of the first P2M frame */
	u64 nr_p2m_frames;	/* number of P2M frames */
};
STATIC_ASSERT(__builtin_offsetof(struct start_info, nr_pages) == 32);
STATIC_ASSERT(__builtin_offsetof(struct start_info, pt_base) == 88);
STATIC_ASSERT(__builtin_offsetof(struct start_info, cmd_line) == 128);
#define SIF_PRIVILEGED		BIT(0)	/* the domain may control others (dom0) */
#define SIF_INITDOMAIN		BIT(1)	/* this is dom0 */
#define START_INFO_MAGIC	"xen-3.0-x86_64"

/* ---------------------------------------------------------------------------------------
 * ELF notes a guest image carries (name "Xen"), read by the domain builder.
 */
#define XEN_ELFNOTE_ENTRY		1	/* virtual entry address */
#define XEN_ELFNOTE_HYPERCALL_PAGE	2	/* virtual address of the hypercall page */
#define XEN_ELFNOTE_VIRT_BASE		3
#define XEN_ELFNOTE_GUEST_OS		6
#define XEN_ELFNOTE_PHYS32_ENTRY	18	/* PVH entry (the hypervisor's own image) */

/* ---------------------------------------------------------------------------------------
 * pvlab_debug_op(int cmd, u64 arg)                  pvlab: hooks the tests use, not Xen's
 */
#define PVLAB_DEBUG_exit_count	0	/* returns the number of VM exits of this vCPU */
#define PVLAB_DEBUG_audit	1	/* lab 2: recount every frame; 0 or -XEN_EINVAL */
#define PVLAB_DEBUG_time_stress	2	/* lab 3: arg != 0: rewrite the time record very often */
#define PVLAB_DEBUG_system_time	3	/* lab 3 bench and tests: the system time, the slow way */
#define PVLAB_DEBUG_log		4	/* arg: a guest string, printed as "(dN log) ..."
					 * (copy_string_from_guest); returns its length,
					 * -XEN_EFAULT: unreadable before its NUL,
					 * -XEN_E2BIG: longer than PVLAB_LOG_MAX - 1 */
#define PVLAB_LOG_MAX		128
#define PVLAB_DEBUG_args	5	/* pvlab_debug_op(5, a, b, c, d): returns a | b << 8 |
					 * c << 16 | d << 24 (each below 256): the lab 1 test
					 * that all five argument registers arrive */
#define PVLAB_DEBUG_block_count	6	/* lab 3: times this vCPU slept in SCHEDOP_block */
#define PVLAB_DEBUG_free_frames	15	/* lab 7: how many machine frames are free */
#define PVLAB_DEBUG_fpu_switches 16	/* lab 8: how often this vCPU's FPU state was
					 * loaded into or saved from the registers */
#define PVLAB_DEBUG_domain_state 17	/* arg: a domid; tests: 0 none, 1 running, 2 dying (its
					 * teardown under way), 3 dead; -XEN_ESRCH past the table */
#define PVLAB_DEBUG_exit_total	18	/* lab 6 bench: VM exits of every vCPU of every domain
					 * since boot (dead domains' included) */

#include "public/grant_table.h"		/* lab 5 */
#include "public/memory.h"		/* lab 7 */
#include "public/domctl.h"		/* lab 6: dom0 learns about domains */

#endif
