/*
 * Interrupt and exception entry for the hypervisor.  Each vector has a tiny stub that pushes
 * an error code (0 where the CPU pushes none) and its number, then joins `alltraps`, which
 * saves the general registers as a struct trapframe and calls trap(tf).
 */
	.text
	.globl trap_vectors
	.balign 16
trap_vectors:				/* stub n is at trap_vectors + 16 * n */
	.set i, 0
	.rept 256
	.balign 16
	.if !((i == 8) || (i >= 10 && i <= 14) || (i == 17) || (i == 21) || (i == 29) || (i == 30))
	pushq $0
	.endif
	pushq $i
	jmp alltraps
	.set i, i + 1
	.endr

alltraps:
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
	mov 8*8(%rsp), %rbp		/* frame chain continues from the interrupted rbp... */
	push 17*8(%rsp)			/* ...with a fake return address = interrupted rip */
	push %rbp
	mov %rsp, %rbp
	call trap
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

	.section .note.GNU-stack, "", @progbits
