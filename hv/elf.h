/* The parts of the ELF64 format the domain builder reads (System V gABI). */
#ifndef PVLAB_HV_ELF_H
#define PVLAB_HV_ELF_H

#include "types.h"

struct elf64_ehdr {
	u8 ident[16];		/* "\x7fELF", class, data, version, ... */
	u16 type, machine;
	u32 version;
	u64 entry, phoff, shoff;
	u32 flags;
	u16 ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
STATIC_ASSERT(sizeof(struct elf64_ehdr) == 64);

struct elf64_phdr {
	u32 type, flags;
	u64 offset, vaddr, paddr, filesz, memsz, align;
};
STATIC_ASSERT(sizeof(struct elf64_phdr) == 56);

struct elf64_note {
	u32 namesz, descsz, type;
};

#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_NOTE 4

#endif
