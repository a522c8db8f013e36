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
 * are listed next to it.
 *
 * CALLING CONVENTION (64-bit)
 *   A guest calls hypercall N by `call hypercall_page + N * 32`.  The hypervisor fills each
 *   32-byte slot of the hypercall page when it builds the domain with `mov $N, %eax; vmmcall`
 *   (AMD) or `...; vmcall` (Intel), then `ret` -- so a guest never hard-codes the vendor's
 *   instruction.
 *     RAX = hypercall number      RDI, RSI, RDX, R10, R8 = arguments 1..5
 *     RAX = result: >= 0 success, or a negative errno (-XEN_EFAULT, ...)
 *   Every other register is preserved.  Hypercalls are allowed only from guest ring 0; from
 *   user mode they return -XEN_EPERM (as Xen since XSA-76).
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
#define __HYPERVISOR_domctl			36
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

/* ---------------------------------------------------------------------------------------
 * sched_op(int cmd, void *arg)                                                      core
 */
#define SCHEDOP_yield		0	/* arg unused: give up the CPU, stay runnable. Returns 0 */
#define SCHEDOP_block		1	/* arg unused: enable event delivery (clear the upcall
					 * mask) and sleep until an event is pending.  Returns 0 */
#define SCHEDOP_shutdown	2	/* arg: struct sched_shutdown *.  Does not return */
#define SCHEDOP_poll		3	/* lab 4 */
struct sched_shutdown {
	unsigned int reason;	/* IN: SHUTDOWN_* ; -XEN_EINVAL if unknown */
};
#define SHUTDOWN_poweroff	0	/* clean exit: the only "success" reason */
#define SHUTDOWN_reboot		1
#define SHUTDOWN_suspend	2
#define SHUTDOWN_crash		3	/* the guest panicked */
#define SHUTDOWN_watchdog	4
#define SHUTDOWN_MAX		4

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
 *   Returns 0 once every entry ran (each has its own result), or:
 *     -XEN_EINVAL  nr_calls > MULTICALL_MAX
 *     -XEN_EFAULT  an entry could not be read or its result written: entries before it ran
 *   A multicall entry that is itself a multicall gets result -XEN_EINVAL (no nesting).
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
 * mmuext_op(struct mmuext_op *op, unsigned count, unsigned *done, domid_t dom)     lab 2
 * update_va_mapping(unsigned long va, u64 val, unsigned long flags)                lab 2
 *   (structures and numbers are defined here by lab 2)
 */
#define MMU_NORMAL_PT_UPDATE	0	/* ptr = machine address of a PTE; val = new PTE */
#define MMU_MACHPHYS_UPDATE	1	/* ptr = machine address of a frame; val = its pfn */
#define MMU_PT_UPDATE_PRESERVE_AD 2
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
 *
 * Events (lab 3 builds the first slice, lab 4 the rest).  An event sets bit `port` of
 * shared_info.evtchn_pending; unless that port is masked (evtchn_mask) it also sets bit
 * port/64 of vcpu_info.evtchn_pending_sel and vcpu_info.evtchn_upcall_pending, and -- unless
 * evtchn_upcall_mask is set -- the hypervisor injects the guest's callback vector as an
 * external interrupt as soon as the guest's RFLAGS.IF allows.  The guest handler clears
 * upcall_pending, then pending_sel, then each pending bit it handles.  SCHEDOP_block clears
 * evtchn_upcall_mask and sleeps unless an event is pending.
 *   pvlab: until lab 4 adds EVTCHNOP_bind_virq, VIRQ_TIMER is bound to port
 *   PVLAB_TIMER_PORT on every vCPU.
 */
#define PVLAB_TIMER_PORT	1
#define VIRQ_TIMER		0
#define VIRQ_DEBUG		1
#define VIRQ_CONSOLE		2
#define NR_VIRQS		24

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
	xen_pfn_t store_mfn;	/* reserved (lab 6: device store) */
	u32 store_evtchn;	/* reserved (lab 6) */
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
#define PVLAB_DEBUG_system_time	3	/* lab 3 benchmark: the system time, the slow way */
#define PVLAB_DEBUG_log		4	/* arg: a guest string, printed as "(dN log) ..."
					 * (copy_string_from_guest); returns its length,
					 * -XEN_EFAULT: unreadable before its NUL,
					 * -XEN_E2BIG: longer than PVLAB_LOG_MAX - 1 */
#define PVLAB_LOG_MAX		128
#define PVLAB_DEBUG_args	5	/* pvlab_debug_op(5, a, b, c, d): returns a | b << 8 |
					 * c << 16 | d << 24 (each below 256): the lab 1 test
					 * that all five argument registers arrive */
#define PVLAB_DEBUG_block_count	6	/* lab 3: times this vCPU slept in SCHEDOP_block */
#define PVLAB_DEBUG_fpu_switches 16	/* lab 8: how often this vCPU's FPU state was
					 * loaded into or saved from the registers */

#endif
