/*
 * Guest entry.  The domain builder starts us in 64-bit ring 0 with paging on, RSI pointing
 * at start_info and interrupts off, exactly like a Xen PV guest.  The ELF notes below tell
 * the builder where our hypercall page is, which it fills with one stub per hypercall.
 */
#define NOTE(type, desc) \
	.balign 4; .long 4, 8, type; .asciz "Xen"; .quad desc

	.section .note.Xen, "a", @note
	NOTE(1, _start)			/* XEN_ELFNOTE_ENTRY */
	NOTE(2, hypercall_page)		/* XEN_ELFNOTE_HYPERCALL_PAGE */

	.section .text.entry, "ax"
	.globl _start
_start:
	lea stack_top(%rip), %rsp
	xor %ebp, %ebp
	mov %rsi, %rdi
	call guest_main
1:	hlt
	jmp 1b

	/* Filled by the hypervisor: slot N (at N * 32) makes hypercall N. */
	.balign 4096
	.globl hypercall_page
hypercall_page:
	.fill 4096, 1, 0xcc

	.bss
	.balign 16
stack:	.skip 32768
	.globl stack_top
stack_top:

	.section .note.GNU-stack, "", @progbits
