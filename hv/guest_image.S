/* The PV guest kernel, linked into the hypervisor image as the default domain image. */
	.section .rodata
	.balign 16
	.globl guest_image, guest_image_end
guest_image:
	.incbin GUEST_ELF
guest_image_end:
	.section .note.GNU-stack, "", @progbits
