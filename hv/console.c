/*
 * Guest consoles.  Each domain's output is collected into lines and printed with a "(dN) "
 * prefix, so that domains cannot interleave mid-line or forge the hypervisor's own
 * "pvlab:" lines, and control characters are shown as '?' so that no guest can drive the
 * terminal.
 */
#include "hv/hv.h"

void guest_console_flush(struct domain *d)
{
	if (!d->con_len)
		return;
	printf("(d%u) ", d->id);
	console_write(d->con, d->con_len);
	console_putc('\n');
	d->con_len = 0;
}

void guest_console_putc(struct domain *d, char c)
{
	if (c == '\n') {
		guest_console_flush(d);
		return;
	}
	if (c == '\r')
		return;
	if ((u8)c < 0x20 || (u8)c >= 0x7f)
		c = c == '\t' ? ' ' : '?';
	d->con[d->con_len++] = c;
	if (d->con_len == sizeof(d->con))
		guest_console_flush(d);
}

/* console_io(cmd, count, buffer): see include/public/xen.h. */
long do_console_io(struct vcpu *v, u64 cmd, u64 count, u64 buffer, u64 a4 UNUSED, u64 a5 UNUSED)
{
#if SOLUTION(1)
	if (cmd != CONSOLEIO_write)
		return -XEN_ENOSYS;
	/* count is an int in the ABI: a negative one arrives sign-extended as a huge u64, or
	 * as a 32-bit value with the top bit set; compared unsigned, both exceed the limit. */
	if (count > CONSOLEIO_MAX)
		return -XEN_EINVAL;
	if (guest_access_ok(v, buffer, count, false) < 0)
		return -XEN_EFAULT;	/* all or nothing: no half-printed line */
	/* Copy in small pieces: the hypervisor's stack is not the place for 16 KiB. */
	char buf[128];
	for (u64 done = 0; done < count;) {
		/* Printing is slow (a serial port): continue later once the slice is over. */
		if (done > 0 && hypercall_preempt_check())
			return hypercall_create_continuation(v, __HYPERVISOR_console_io, cmd, count - done,
							     buffer + done, 0, 0);
		size_t chunk = MIN(sizeof(buf), count - done);
		if (copy_from_guest(v, buf, buffer + done, chunk) < 0)
			return -XEN_EFAULT;
		for (size_t i = 0; i < chunk; i++)
			guest_console_putc(v->dom, buf[i]);
		done += chunk;
	}
	return 0;
#else // SOLUTION(1)
	/* Lab 1: check cmd and count (an int: negative or huge counts are errors), then copy
	 * the buffer in with copy_from_guest() in pieces and print it with
	 * guest_console_putc().  Between pieces, once hypercall_preempt_check() says so,
	 * return hypercall_create_continuation() for the rest. */
	(void)cmd, (void)count, (void)buffer;
	lab_stub_warn(v, 1, "do_console_io");
	return -XEN_ENOSYS;
#endif // SOLUTION(1)
}
