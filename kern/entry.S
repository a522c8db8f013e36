/*
 * The hypervisor's first instructions.  One image boots two ways:
 *   - QEMU -kernel: through the PVH ELF note (XEN_ELFNOTE_PHYS32_ENTRY) with EBX pointing at
 *     an hvm_start_info;
 *   - GRUB (Bochs, real hardware): through the multiboot2 header, with EAX = 0x36d76289
 *     and EBX pointing at the multiboot2 information.
 * Either way we arrive in 32-bit protected mode with paging off.  We build page tables that
 * identity-map the first 4 GiB with 2 MiB pages, switch to long mode and call
 * kmain(magic, info) in C, which works out which protocol it was.
 */
#define MB2_MAGIC 0xe85250d6

	.section .boot.header, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC, 0, mb2_end - mb2_header
	.long -(MB2_MAGIC + 0 + (mb2_end - mb2_header))
	.balign 8
	.word 0, 0		/* end tag */
	.long 8
mb2_end:

	.section .note.pvh, "a", @note
	.balign 4
	.long 4, 4, 18		/* name size, desc size, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start32

	.section .boot.text, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	mov %eax, %esi			/* keep magic and info across the bss clear */
	mov %ebx, %edx
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	mov %esi, boot_magic
	mov %edx, boot_info
	mov $boot_stack_top, %esp

	/* pml4[0] -> pdpt; pdpt[0..3] -> pd[0..3]; pd[k] maps 2 MiB page k (identity). */
	mov $boot_pdpt, %eax
	or $3, %eax
	mov %eax, boot_pml4
	mov $boot_pd, %eax
	or $3, %eax
	mov $boot_pdpt, %edi
	mov $4, %ecx
1:	mov %eax, (%edi)
	add $4096, %eax
	add $8, %edi
	loop 1b
	mov $boot_pd, %edi
	mov $0x83, %eax			/* P | W | PS */
	xor %edx, %edx
	mov $2048, %ecx
2:	mov %eax, (%edi)
	mov %edx, 4(%edi)
	add $0x200000, %eax
	adc $0, %edx
	add $8, %edi
	loop 2b

	mov %cr4, %eax
	or $0x620, %eax			/* PAE | OSFXSR | OSXMMEXCPT: FXSAVE covers XMM0-15 */
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME | EFER.NXE */
	rdmsr
	or $0x900, %eax
	wrmsr
	mov %cr0, %eax
	and $~0xc, %eax			/* EM, TS off: hv/fpu.c switches guests' FPU state */
	or $0x80010023, %eax		/* PG | WP | NE | MP | PE */
	mov %eax, %cr0
	lgdt boot_gdt_ptr
	ljmp $8, $start64

	.code64
start64:
	mov $16, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %ax, %ax
	mov %ax, %fs
	mov %ax, %gs
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp			/* end of the backtrace chain */
	mov boot_magic, %edi
	mov boot_info, %esi
	call kmain
3:	hlt
	jmp 3b

	.section .rodata
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
boot_gdt_ptr:
	.word boot_gdt_ptr - boot_gdt - 1
	.quad boot_gdt

	.section .bss
	.balign 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4 * 4096
	.globl boot_stack, boot_stack_top, boot_stack_guard
boot_stack_guard: .skip 4096		/* unmapped by paging_init: an overflow faults */
boot_stack:	.skip 16384
boot_stack_top:
boot_magic:	.long 0
boot_info:	.long 0

	.section .note.GNU-stack, "", @progbits
