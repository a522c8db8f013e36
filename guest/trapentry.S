/* The guest kernel's interrupt and exception entry: guest_trap() in guest/trap.c. */
#include "x86/trapentry.S"
	TRAP_ENTRY guest_vectors, guest_alltraps, guest_trap
	.section .note.GNU-stack, "", @progbits
