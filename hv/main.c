#include "kern/kernel.h"
void hv_main(const char *cmdline)
{
	printf("pvlab: hello %s\n", cmdline);
	machine_exit(EXIT_SUCCESS);
}
void hv_timer_tick(void) {}
