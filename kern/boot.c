/*
 * Boot information from either protocol, turned into one struct boot_info: usable RAM
 * regions, the command line and the boot modules.
 */
#include "kern/kernel.h"

struct boot_info boot;

#define PVH_MAGIC 0x336ec578
#define MB2_BOOT_MAGIC 0x36d76289

struct hvm_start_info {		/* Xen's public/arch-x86/hvm/start_info.h */
	u32 magic, version, flags, nr_modules;
	u64 modlist_paddr, cmdline_paddr, rsdp_paddr;
	u64 memmap_paddr;	/* version >= 1 */
	u32 memmap_entries, reserved;
};
struct hvm_modlist_entry {
	u64 paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_entry {
	u64 addr, size;
	u32 type, reserved;
};

struct mb2_tag {
	u32 type, size;
};
struct mb2_mmap_entry {
	u64 addr, len;
	u32 type, reserved;
};

static void add_ram(u64 base, u64 len)
{
	if (boot.nr_ram < MAX_MEM_REGIONS)
		boot.ram[boot.nr_ram++] = (struct mem_region){ base, len };
}

static void add_module(u64 start, u64 len, const char *cmdline)
{
	if (boot.nr_mod < MAX_MODULES)
		boot.mod[boot.nr_mod++] = (struct boot_module){ start, len, cmdline ? cmdline : "" };
}

/* Memory size from the CMOS (what SeaBIOS left there): the fallback with no memory map. */
static void ram_from_cmos(void)
{
	outb(0x70, 0x35);
	u64 hi = inb(0x71);
	outb(0x70, 0x34);
	u64 above16m = ((hi << 8) | inb(0x71)) << 16;
	add_ram(0x100000, 15 << 20);
	add_ram(16 << 20, above16m);
}

static void parse_pvh(const struct hvm_start_info *si)
{
	boot.protocol = "pvh";
	boot.cmdline = si->cmdline_paddr ? pa2va(si->cmdline_paddr) : "";
	const struct hvm_modlist_entry *m = pa2va(si->modlist_paddr);
	for (u32 i = 0; i < si->nr_modules; i++)
		add_module(m[i].paddr, m[i].size,
			   m[i].cmdline_paddr ? pa2va(m[i].cmdline_paddr) : NULL);
	if (si->version >= 1 && si->memmap_paddr) {
		const struct hvm_memmap_entry *e = pa2va(si->memmap_paddr);
		for (u32 i = 0; i < si->memmap_entries; i++)
			if (e[i].type == 1)
				add_ram(e[i].addr, e[i].size);
	} else {
		ram_from_cmos();
	}
}

static void parse_mb2(const u8 *mbi)
{
	boot.protocol = "multiboot2";
	boot.cmdline = "";
	u32 total = *(const u32 *)mbi;
	for (const u8 *p = mbi + 8; p < mbi + total;) {
		const struct mb2_tag *t = (const void *)p;
		if (t->type == 0)
			break;
		if (t->type == 1) {		/* command line */
			boot.cmdline = (const char *)(t + 1);
		} else if (t->type == 3) {	/* module: start, end, string */
			const u32 *w = (const u32 *)(t + 1);
			add_module(w[0], w[1] - w[0], (const char *)(w + 2));
		} else if (t->type == 6) {	/* memory map */
			const u32 *w = (const u32 *)(t + 1);
			u32 esize = w[0];
			for (const u8 *e = (const u8 *)(w + 2); e < p + t->size; e += esize) {
				const struct mb2_mmap_entry *me = (const void *)e;
				if (me->type == 1)
					add_ram(me->addr, me->len);
			}
		}
		p += ROUNDUP(t->size, 8);
	}
	if (!boot.nr_ram)
		ram_from_cmos();
}

void boot_parse(u32 magic, u32 info)
{
	/* Larger than hv_main's own copy, so that it can still say "too long". */
	static char cmdline[8192];
	if (magic == MB2_BOOT_MAGIC)
		parse_mb2(pa2va(info));
	else if (info && ((const struct hvm_start_info *)pa2va(info))->magic == PVH_MAGIC)
		parse_pvh(pa2va(info));
	else
		panic("unknown boot protocol (eax=%x, ebx=%x): boot with QEMU -kernel or GRUB multiboot2",
		      magic, info);
	/* The boot loader's copy lies in memory that mm_init() hands out (GRUB puts its
	 * information above the image), so keep our own before anything is allocated. */
	strlcpy(cmdline, boot.cmdline, sizeof(cmdline));
	boot.cmdline = cmdline;
}
