/* C entry point of the hypervisor: bring up the machine, then hand over to hv_main(). */
#include "kern/kernel.h"

void mm_init(void);

void kmain(u32 magic, u32 info)
{
	console_init();
	trap_init();
	boot_parse(magic, info);
	printf("pvlab: hypervisor booting (%s), command line \"", boot.protocol);
	console_write_untrusted(boot.cmdline, strlen(boot.cmdline));
	printf("\"\n");
	mm_init();
	paging_init();
	lapic_init();
	hv_main(boot.cmdline);
}
