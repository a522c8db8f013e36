/*
 * Guest console output: the console_io hypercall, or -- while that does not work yet (a lab
 * 1 stub) -- the port-0xE9 debug console, so that test results always get out.
 */
#include "guest/kernel.h"

bool console_via_hypercall = true;

void console_write(const char *s, size_t n)
{
	if (console_via_hypercall) {
		if (HYPERVISOR_console_io(CONSOLEIO_write, (int)n, s) == 0)
			return;
		console_via_hypercall = false;
		const char *note = "[console_io failed: using port 0xE9 from here on]\n";
		for (const char *p = note; *p; p++)
			outb(0xe9, (u8)*p);
	}
	for (size_t i = 0; i < n; i++)
		outb(0xe9, (u8)s[i]);
}

/* Print a lab stub's notice once.  It goes straight to port 0xE9: the stub may be the very
 * hypercall path that printf needs, and a notice must never recurse into it. */
void lab_todo(const char *notice)
{
	static const char *said[64];
	if (!first_time(said, ARRAY_SIZE(said), notice))
		return;
	for (const char *p = notice; *p; p++)
		outb(0xe9, (u8)*p);
	outb(0xe9, '\n');
}

/* printf collects into a buffer and writes it with one console_io call per line. */
struct pbuf {
	char b[256];
	size_t n;
};

static void pput(void *arg, char c)
{
	struct pbuf *p = arg;
	p->b[p->n++] = c;
	if (c == '\n' || p->n == sizeof(p->b)) {
		console_write(p->b, p->n);
		p->n = 0;
	}
}

int vprintf(const char *fmt, va_list ap)
{
	struct pbuf p = { .n = 0 };
	int r = vformat(pput, &p, fmt, ap);
	if (p.n)
		console_write(p.b, p.n);
	return r;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vprintf(fmt, ap);
	va_end(ap);
	return r;
}

void guest_exit(unsigned reason)
{
	struct sched_shutdown s = { .reason = reason };
	long r = HYPERVISOR_sched_op(SCHEDOP_shutdown, &s);
	/* Only a broken hypercall path gets here.  Sleep with interrupts off: the hypervisor
	 * notices that nothing can wake us and ends the run. */
	printf("guest: SCHEDOP_shutdown failed (%ld): halting\n", r);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void panic(const char *fmt, ...)
{
	va_list ap;
	printf("guest: PANIC: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	guest_exit(SHUTDOWN_crash);
}
