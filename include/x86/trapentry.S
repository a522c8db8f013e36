/*
 * Interrupt and exception entry, shared by the hypervisor (kern/trapentry.S) and the guest
 * kernel (guest/trapentry.S): TRAP_ENTRY vectors, common, handler emits
 *   vectors  -- 256 stubs, 16 bytes apart (stub n at vectors + 16 * n); each pushes an error
 *               code (0 where the CPU pushes none) and its vector number, then jumps to
 *   common   -- which saves the general registers as a trapframe (r15 at the lowest
 *               address, then ..., rax, vector, error code, and the CPU's frame) and calls
 *               handler(frame), then restores everything and IRETs.
 * The saved RBP and RIP also form a fake call frame, so backtraces continue into the
 * interrupted code.
 */
	.macro TRAP_ENTRY vectors, common, handler
	.text
	.globl \vectors
	.balign 16
\vectors:
	.set i, 0
	.rept 256
	.balign 16
	.if !((i == 8) || (i >= 10 && i <= 14) || (i == 17) || (i == 21) || (i == 29) || (i == 30))
	pushq $0
	.endif
	pushq $i
	jmp \common
	.set i, i + 1
	.endr

\common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	mov 8*8(%rsp), %rbp		/* frame chain: the interrupted rbp... */
	push 17*8(%rsp)			/* ...and a fake return address = interrupted rip */
	push %rbp
	mov %rsp, %rbp
	call \handler
	add $16, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp			/* vector and error code */
	iretq
	.endm
