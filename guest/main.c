/* The guest kernel's C entry: set up, run the tests named on the command line, shut down. */
#include "guest/kernel.h"

struct start_info *start_info;
unsigned run_tests(void);

void guest_main(struct start_info *si)
{
	start_info = si;
	trap_init();
	mm_init();
	printf("pvlab guest: %s, %lu pages, %s, command line \"%s\"\n", si->magic, si->nr_pages,
	       si->flags & SIF_INITDOMAIN ? "dom0" : "domU", si->cmd_line);
	guest_exit(run_tests());
}
