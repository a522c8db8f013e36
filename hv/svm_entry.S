/*
 * void svm_vmrun(u64 guest_vmcb_pa, struct cpu_regs *regs, u64 host_vmcb_pa)
 *
 * Enter the guest with VMRUN and come back at its next #VMEXIT.  VMRUN itself switches only
 * RAX, RSP, RIP and RFLAGS (plus segment and control state) -- the caller has put the guest's
 * values of those in the VMCB -- so this stub loads the other fourteen guest registers from
 * *regs before VMRUN and stores them back afterwards.  FS, GS, TR, LDTR and the SYSCALL MSRs
 * are switched with VMLOAD/VMSAVE: the guest's from its VMCB, the host's from host_vmcb_pa.
 *
 * Interrupts: GIF is cleared while we juggle state.  RFLAGS.IF is set before VMRUN so that
 * a host interrupt arriving while the guest runs causes an exit (with V_INTR_MASKING on);
 * STGI at the end lets it be taken by the host's IDT right here, then CLI.
 */
#define R(n) (n * 8)

	.text
	.globl svm_vmrun
svm_vmrun:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rsi			/* 16(%rsp): regs */
	push %rdx			/*  8(%rsp): host VMCB */
	push %rdi			/*  0(%rsp): guest VMCB */

	clgi
	sti
	mov %rdi, %rax
	vmload %rax
	mov %rsi, %rax
	mov R(1)(%rax), %rcx
	mov R(2)(%rax), %rdx
	mov R(3)(%rax), %rbx
	mov R(5)(%rax), %rbp
	mov R(6)(%rax), %rsi
	mov R(7)(%rax), %rdi
	mov R(8)(%rax), %r8
	mov R(9)(%rax), %r9
	mov R(10)(%rax), %r10
	mov R(11)(%rax), %r11
	mov R(12)(%rax), %r12
	mov R(13)(%rax), %r13
	mov R(14)(%rax), %r14
	mov R(15)(%rax), %r15
	mov 0(%rsp), %rax
	vmrun %rax
	/* #VMEXIT: host RAX, RSP, RIP, RFLAGS are back; the rest hold guest values. */
	mov 16(%rsp), %rax
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
	mov 0(%rsp), %rax
	vmsave %rax
	mov 8(%rsp), %rax
	vmload %rax
	stgi				/* a pending host interrupt is taken here */
	cli

	add $24, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

	.section .note.GNU-stack, "", @progbits
