/* Guest exception entry: the same shape as the hypervisor's (kern/trapentry.S). */
	.text
	.globl guest_vectors
	.balign 16
guest_vectors:				/* stub n is at guest_vectors + 16 * n */
	.set i, 0
	.rept 256
	.balign 16
	.if !((i == 8) || (i >= 10 && i <= 14) || (i == 17) || (i == 21) || (i == 29) || (i == 30))
	pushq $0
	.endif
	pushq $i
	jmp guest_alltraps
	.set i, i + 1
	.endr

guest_alltraps:
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
	call guest_trap
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
	add $16, %rsp
	iretq

	.section .note.GNU-stack, "", @progbits
