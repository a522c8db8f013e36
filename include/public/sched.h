/*
 * sched_op(int cmd, void *arg) (Xen's public/sched.h).  Included by public/xen.h.    core
 */
#define SCHEDOP_yield		0	/* arg unused: give up the CPU, stay runnable. Returns 0 */
#define SCHEDOP_block		1	/* arg unused: enable event delivery (clear the upcall
					 * mask) and sleep until an event is pending.  Returns 0 */
#define SCHEDOP_shutdown	2	/* arg: struct sched_shutdown *.  Does not return */
struct sched_shutdown {
	unsigned int reason;	/* IN: SHUTDOWN_* ; -XEN_EINVAL if unknown */
};
#define SHUTDOWN_poweroff	0	/* clean exit: the only "success" reason */
#define SHUTDOWN_reboot		1
#define SHUTDOWN_suspend	2
#define SHUTDOWN_crash		3	/* the guest panicked */
#define SHUTDOWN_watchdog	4
#define SHUTDOWN_MAX		4

/* SCHEDOP_poll: sleep until one of nr_ports ports of the caller is pending, or until
 * system time `timeout` (ns; 0: no timeout) -- without enabling upcalls.  Returns 0 at
 * once if one of them is already pending, and 0 when woken: the caller checks its ports.
 *     -XEN_EINVAL  nr_ports > SCHED_POLL_MAX, or a port >= EVTCHN_MAX_PORTS
 *     -XEN_EFAULT  the port list cannot be read                                   lab 4 */
#define SCHEDOP_poll		3
struct sched_poll {
	evtchn_port_t *ports;	/* IN: guest virtual address of nr_ports ports */
	unsigned int nr_ports;	/* IN */
	unsigned int pad;
	u64 timeout;		/* IN: absolute system time in ns, 0 = none */
};
STATIC_ASSERT(sizeof(struct sched_poll) == 24);
#define SCHED_POLL_MAX		128	/* Xen's bound on nr_ports */
