/* Ending a run: QEMU's isa-debug-exit, Bochs' shutdown port, or a halt on real hardware. */
#include "kern/kernel.h"

static const char *const exit_word[] = {
	[EXIT_SUCCESS] = "success",
	[EXIT_FAILURE] = "failure",
	[EXIT_PANIC] = "panic",
	[EXIT_CONFIG] = "config",
};

void machine_exit(enum exit_code code)
{
	cli();
	printf("pvlab: exit %s\n", exit_word[code]);
	console_drain();	/* Bochs stops at once: let the last line out first */
	outl(0xf4, code);	/* QEMU -device isa-debug-exit,iobase=0xf4: exits (code << 1) | 1 */
	for (const char *s = "Shutdown"; *s; s++)
		outb(0x8900, (u8)*s);	/* Bochs: ends the simulation */
	printf("pvlab: halted (no emulator exit device); power off by hand\n");
	for (;;)
		hlt();
}
