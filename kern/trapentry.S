/* The hypervisor's interrupt and exception entry: trap(struct trapframe *) in kern/trap.c. */
#include "x86/trapentry.S"
	TRAP_ENTRY trap_vectors, alltraps, trap
	.section .note.GNU-stack, "", @progbits
