/* The hypervisor console: COM1 at 115200 8N1, and printf/panic on top of it. */
#include "kern/kernel.h"

#define COM1 0x3f8

void console_init(void)
{
	outb(COM1 + 1, 0x00);	/* no UART interrupts: we poll */
	outb(COM1 + 3, 0x80);	/* DLAB on to set the divisor */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1, DLAB off */
	outb(COM1 + 2, 0xc7);	/* FIFOs on and cleared */
	outb(COM1 + 4, 0x03);	/* DTR, RTS */
}

void console_putc(char c)
{
	if (c == '\n')
		console_putc('\r');
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		pause();	/* wait until the transmit holding register is empty */
	outb(COM1, (u8)c);
}

/* Wait until the UART has sent every byte, so that nothing is lost if the machine stops now. */
void console_drain(void)
{
	for (int i = 0; i < 1000000 && !(inb(COM1 + 5) & 0x40); i++)
		pause();	/* until the transmitter is empty (LSR.TEMT) */
}

void console_write(const char *s, size_t n)
{
	while (n--)
		console_putc(*s++);
}

/* Write n bytes of text we do not trust (a guest's, a command line) with every byte outside
 * printable ASCII shown as '?': such text can neither end the line it is printed on (so it
 * cannot start a line of ours), nor move the cursor, nor start a terminal escape sequence,
 * nor smuggle in a multi-byte character that a reader splits lines at.  All text from a
 * guest reaches the console through here and nowhere else. */
void console_write_untrusted(const char *s, size_t n)
{
	while (n--) {
		char c = *s++;
		console_putc(c >= 0x20 && c < 0x7f ? c : '?');
	}
}

static void put(void *arg UNUSED, char c)
{
	console_putc(c);
}

int vprintf(const char *fmt, va_list ap)
{
	return vformat(put, NULL, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

static int panicking;

void panic_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	cli();
	if (panicking++)	/* a panic while panicking: just stop */
		machine_exit(EXIT_PANIC);
	printf("pvlab: PANIC: %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	dump_backtrace(read_rbp());
	hv_panic_dump();
	machine_exit(EXIT_PANIC);
}
