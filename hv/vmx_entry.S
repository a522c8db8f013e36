/*
 * int vmx_enter(struct cpu_regs *regs, int launched)
 *
 * Enter the guest of the current VMCS with VMLAUNCH (first entry since its VMCLEAR) or
 * VMRESUME, and come back at its next VM exit.  Returns VMX_OK (0) after a VM exit,
 * VMX_FAIL_VALID (1) or VMX_FAIL_INVALID (2) if the instruction itself failed.
 *
 * A VM entry loads the guest's RSP, RIP and RFLAGS (and segments, control registers...) from
 * the VMCS -- the caller has written them there -- but none of the other fifteen general
 * registers, so this stub loads them from *regs before the entry and stores them back after
 * the exit.  The exit lands at vmx_exit (HOST_RIP) with RSP = HOST_RSP, which we set to our
 * own stack pointer just before entering: the saved host registers and `regs` are there.
 * The exit also clears RFLAGS, so the host continues with interrupts off.
 */
#define R(n) (n * 8)
#define HOST_RSP 0x6c14

	.text
	.globl vmx_enter
vmx_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi			/* 0(%rsp): regs, found again at the exit */

	mov $HOST_RSP, %eax
	vmwrite %rsp, %rax
	jbe .Lfail			/* CF or ZF: no current VMCS */

	test %esi, %esi			/* the flags survive the MOVs below */
	mov R(0)(%rdi), %rax
	mov R(1)(%rdi), %rcx
	mov R(2)(%rdi), %rdx
	mov R(3)(%rdi), %rbx
	mov R(5)(%rdi), %rbp
	mov R(6)(%rdi), %rsi
	mov R(8)(%rdi), %r8
	mov R(9)(%rdi), %r9
	mov R(10)(%rdi), %r10
	mov R(11)(%rdi), %r11
	mov R(12)(%rdi), %r12
	mov R(13)(%rdi), %r13
	mov R(14)(%rdi), %r14
	mov R(15)(%rdi), %r15
	mov R(7)(%rdi), %rdi		/* last: it was our pointer */
	jnz 1f
	vmlaunch
	jmp .Lfail			/* only reached if VMLAUNCH failed */
1:	vmresume
	/* fall through: VMRESUME failed */
.Lfail:
	mov $1, %eax			/* VMX_FAIL_VALID: ZF = 1 */
	jnc .Lout
	mov $2, %eax			/* VMX_FAIL_INVALID: CF = 1 */
	jmp .Lout

	/* VM exit: RSP, RIP and RFLAGS are the host's again; the rest hold guest values. */
	.globl vmx_exit
vmx_exit:
	push %rax
	mov 8(%rsp), %rax		/* regs */
	popq R(0)(%rax)
	mov %rcx, R(1)(%rax)
	mov %rdx, R(2)(%rax)
	mov %rbx, R(3)(%rax)
	mov %rbp, R(5)(%rax)
	mov %rsi, R(6)(%rax)
	mov %rdi, R(7)(%rax)
	mov %r8, R(8)(%rax)
	mov %r9, R(9)(%rax)
	mov %r10, R(10)(%rax)
	mov %r11, R(11)(%rax)
	mov %r12, R(12)(%rax)
	mov %r13, R(13)(%rax)
	mov %r14, R(14)(%rax)
	mov %r15, R(15)(%rax)
	xor %eax, %eax			/* VMX_OK */

.Lout:
	add $8, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

/*
 * void vmx_call_handler(u64 handler)
 *
 * Run the host's IDT handler `handler` as if its interrupt had just arrived here: push the
 * frame the CPU would push (SS, RSP, RFLAGS, CS, then RIP by the CALL) and jump to it; its
 * IRETQ comes back to 1: with our RSP and RFLAGS (interrupts still off).  Used for the
 * interrupt a VM exit acknowledged on the host's behalf.
 */
	.globl vmx_call_handler
vmx_call_handler:
	push %rbp
	mov %rsp, %rbp
	and $-16, %rsp			/* the CPU aligns the frame of a 64-bit interrupt */
	mov %ss, %eax
	push %rax
	push %rbp
	pushf
	mov %cs, %eax
	push %rax
	call *%rdi
1:	pop %rbp
	ret

	.section .note.GNU-stack, "", @progbits
