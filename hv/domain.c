/*
 * The domain builder: turns a guest ELF image and a command-line segment into a running PV
 * domain, the way Xen's toolstack builds a PV guest.  Guest memory, in pseudo-physical
 * frame (pfn) order:
 *
 *   [ kernel image | start_info | store | P2M (mfn_list) | boot stack | page tables L4 L3 ...]
 *     ^ virt_base                                                       ^ pt_base     free ->
 *
 * All of it is mapped at virt_base + pfn * 4 KiB by page tables that hold *machine*
 * addresses (direct paging).  The page-table frames are mapped read-only and typed in the
 * frame table, with the reference counts that lab 2's validation would have given them, so
 * the guest can never write its own page tables except through validated hypercalls.  As in
 * Mini-OS, the first free pfn is pfn(pt_base) + nr_pt_frames.  As for 64-bit Xen PV guests,
 * the mappings are user-accessible: the guest kernel decides what its programs may touch.
 *
 * A domU also gets what Xen's toolstack gives it for the store (lab 6): the page after
 * start_info (where Xen's PV builder puts it), an unbound port for dom0, and grant ref
 * GNTTAB_RESERVED_XENSTORE granting that page to dom0 -- so dom0, the store, can find it
 * with getdomaininfo and map it like any grant.  dom0 has no store page: it is the store.
 */
#include "hv/hv.h"
#include "hv/elf.h"

#define BOOT_STACK_PAGES 4

struct domain domains[MAX_DOMAINS];
u64 *m2p;	/* machine-to-physical: m2p[mfn] = pfn of the owning domain (lab 2) */

struct layout {
	u64 nr_pages, virt_base, entry, hypercall_page;
	u64 image_pages, start_info, store, p2m, nr_p2m, stack, pt, nr_pt, nr_l1;
};

struct domain *domain_by_id(domid_t id)
{
	if (id >= MAX_DOMAINS || domains[id].state != DOM_RUNNING)
		return NULL;
	return &domains[id];
}

/* Check the ELF headers and find the image's extent, entry point and Xen notes.
 * Returns NULL or what is wrong. */
static const char *elf_check(const u8 *img, size_t len, struct layout *l)
{
	const struct elf64_ehdr *eh = (const void *)img;
	if (len < sizeof(*eh) || memcmp(eh->ident, "\x7f" "ELF", 4))
		return "not an ELF file";
	if (eh->ident[4] != ELFCLASS64 || eh->ident[5] != ELFDATA2LSB || eh->machine != EM_X86_64 ||
	    eh->type != ET_EXEC)
		return "not an x86-64 ELF executable";
	if (eh->phentsize != sizeof(struct elf64_phdr) || eh->phoff > len ||
	    eh->phnum > (len - eh->phoff) / sizeof(struct elf64_phdr))
		return "bad program headers";
	const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
	u64 lo = ~0ULL, hi = 0;
	l->entry = eh->entry;
	for (int i = 0; i < eh->phnum; i++) {
		if (ph[i].offset > len || ph[i].filesz > len - ph[i].offset)
			return "segment outside the file";
		if (ph[i].type == PT_LOAD) {
			if (ph[i].filesz > ph[i].memsz || ph[i].vaddr + ph[i].memsz < ph[i].vaddr)
				return "bad PT_LOAD segment";
			lo = MIN(lo, ph[i].vaddr);
			hi = MAX(hi, ph[i].vaddr + ph[i].memsz);
		} else if (ph[i].type == PT_NOTE) {
			const u8 *p = img + ph[i].offset, *end = p + ph[i].filesz;
			while (p + sizeof(struct elf64_note) <= end) {
				const struct elf64_note *n = (const void *)p;
				const u8 *name = p + sizeof(*n);
				const u8 *desc = name + ROUNDUP(n->namesz, 4);
				if (desc + ROUNDUP(n->descsz, 4) > end)
					break;
				if (n->namesz == 4 && !memcmp(name, "Xen", 4) && n->descsz >= 8) {
					if (n->type == XEN_ELFNOTE_HYPERCALL_PAGE)
						l->hypercall_page = *(const u64 *)desc;
					else if (n->type == XEN_ELFNOTE_ENTRY)
						l->entry = *(const u64 *)desc;
				}
				p = desc + ROUNDUP(n->descsz, 4);
			}
		}
	}
	if (lo == ~0ULL || lo & (PAGE_SIZE - 1) || !IS_CANONICAL(lo) || !IS_CANONICAL(hi))
		return "no page-aligned loadable segment";
	l->virt_base = lo;
	l->image_pages = ROUNDUP(hi - lo, PAGE_SIZE) / PAGE_SIZE;
	if (l->entry < lo || l->entry >= hi)
		return "entry point outside the image";
	if (!l->hypercall_page || l->hypercall_page & (PAGE_SIZE - 1) || l->hypercall_page < lo ||
	    l->hypercall_page >= hi)
		return "no XEN_ELFNOTE_HYPERCALL_PAGE note with a page-aligned address in the image";
	return NULL;
}

/* Where everything goes for a domain of nr_pages (with a store page: a domU).  Returns NULL
 * or what does not fit. */
static const char *plan(struct layout *l, u64 nr_pages, bool store)
{
	l->nr_pages = nr_pages;
	l->start_info = l->image_pages;
	l->store = store ? l->start_info + 1 : 0;
	l->p2m = l->start_info + 1 + (store ? 1 : 0);
	l->nr_p2m = ROUNDUP(nr_pages * sizeof(u64), PAGE_SIZE) / PAGE_SIZE;
	l->stack = l->p2m + l->nr_p2m;
	l->pt = l->stack + BOOT_STACK_PAGES;
	l->nr_l1 = ROUNDUP(nr_pages, PT_ENTRIES) / PT_ENTRIES;
	l->nr_pt = 3 + l->nr_l1;
	if (l->pt + l->nr_pt + 16 > nr_pages)
		return "memory too small for the guest image";
	u64 first = l->virt_base, last = l->virt_base + nr_pages * PAGE_SIZE - 1;
	if (PT_INDEX(first, 4) != PT_INDEX(last, 4) || PT_INDEX(first, 3) != PT_INDEX(last, 3) ||
	    PT_INDEX(first, 2) + l->nr_l1 > PT_ENTRIES || (first & (LARGE_PAGE_SIZE - 1)))
		return "guest must be linked at a 2 MiB boundary with its memory in one 1 GiB region";
	return NULL;
}

static pte_t *pfn_ptr(const mfn_t *p2m, u64 pfn)
{
	return mfn_to_virt(p2m[pfn]);
}

/* A page-table entry of a table at `level` now points at `target`: take the references
 * lab 2's validation would take (a general one, plus a type one of the level below, or a
 * writable one for a writable leaf). */
static void take_ref(mfn_t target, int level, bool writable)
{
	struct frame *f = frame_of(target);
	f->count++;
	if (level > 1) {
		f->type = (u8)(level - 1);
		f->type_count++;
		f->flags |= FRAME_VALIDATED;
	} else if (writable) {
		f->type = PGT_writable;
		f->type_count++;
	}
}

static void build_page_tables(struct layout *l, const mfn_t *p2m)
{
	u64 l4 = l->pt, l3 = l4 + 1, l2 = l3 + 1, l1 = l2 + 1, va = l->virt_base;
	pfn_ptr(p2m, l4)[PT_INDEX(va, 4)] = (p2m[l3] << PAGE_SHIFT) | PTE_P | PTE_W | PTE_U;
	take_ref(p2m[l3], 4, true);
	pfn_ptr(p2m, l3)[PT_INDEX(va, 3)] = (p2m[l2] << PAGE_SHIFT) | PTE_P | PTE_W | PTE_U;
	take_ref(p2m[l2], 3, true);
	for (u64 i = 0; i < l->nr_l1; i++) {
		pfn_ptr(p2m, l2)[PT_INDEX(va, 2) + i] = (p2m[l1 + i] << PAGE_SHIFT) | PTE_P | PTE_W | PTE_U;
		take_ref(p2m[l1 + i], 2, true);
	}
	for (u64 pfn = 0; pfn < l->nr_pages; pfn++) {
		bool is_pt = pfn >= l->pt && pfn < l->pt + l->nr_pt;
		pte_t e = (p2m[pfn] << PAGE_SHIFT) | PTE_P | PTE_U | (is_pt ? 0 : PTE_W);
		pfn_ptr(p2m, l1 + pfn / PT_ENTRIES)[pfn % PT_ENTRIES] = e;
		take_ref(p2m[pfn], 1, !is_pt);
	}
	/* The root is pinned and is the vCPU's base pointer: two more references each. */
	struct frame *root = frame_of(p2m[l4]);
	root->type = PGT_l4;
	root->flags |= FRAME_PINNED | FRAME_VALIDATED;
	root->count += 2;
	root->type_count += 2;
}

static void load_image(const u8 *img, const struct layout *l, const mfn_t *p2m)
{
	const struct elf64_ehdr *eh = (const void *)img;
	const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
	for (int i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_LOAD)
			continue;
		for (u64 off = 0; off < ph[i].filesz;) {
			u64 va = ph[i].vaddr + off, pfn = (va - l->virt_base) >> PAGE_SHIFT;
			u64 in_page = va & (PAGE_SIZE - 1);
			u64 n = MIN(ph[i].filesz - off, PAGE_SIZE - in_page);
			memcpy((u8 *)mfn_to_virt(p2m[pfn]) + in_page, img + ph[i].offset + off, n);
			off += n;
		}	/* the rest of memsz (bss) is already zero: page_alloc zeroes */
	}
}

/* Slot N of the hypercall page: mov $N, %eax; <vmmcall|vmcall>; ret; then int3 padding. */
static void fill_hypercall_page(u8 *page)
{
	u8 insn[3];
	vcpu_ops->hypercall_insn(insn);
	memset(page, 0xcc, PAGE_SIZE);
	for (unsigned n = 0; n < PAGE_SIZE / HYPERCALL_STUB_SIZE; n++) {
		u8 *p = page + n * HYPERCALL_STUB_SIZE;
		p[0] = 0xb8;
		memcpy(p + 1, &n, 4);
		memcpy(p + 5, insn, 3);
		p[8] = 0xc3;
	}
}

static void fill_start_info(struct domain *d, const struct layout *l)
{
	struct start_info *si = mfn_to_virt(d->start_info_mfn);
	strlcpy(si->magic, START_INFO_MAGIC, sizeof(si->magic));
	si->nr_pages = l->nr_pages;
	si->shared_info = d->shared_info_mfn << PAGE_SHIFT;
	si->flags = d->privileged ? SIF_PRIVILEGED | SIF_INITDOMAIN : 0;
	si->store_mfn = d->store_mfn;
	si->store_evtchn = d->store_evtchn;
	si->pt_base = l->virt_base + l->pt * PAGE_SIZE;
	si->nr_pt_frames = l->nr_pt;
	si->mfn_list = l->virt_base + l->p2m * PAGE_SIZE;
	si->first_p2m_pfn = l->p2m;
	si->nr_p2m_frames = l->nr_p2m;
	strlcpy(si->cmd_line, d->cmdline, sizeof(si->cmd_line));
}

/* Take "mem=SIZE" off the front of spec; the rest is the guest's command line. */
static const char *parse_spec(struct domain *d, const char *spec, u64 *mem)
{
	char word[32];
	*mem = GUEST_MEM_DEFAULT;
	while (*spec == ' ')
		spec++;
	if (!strncmp(spec, "mem=", 4)) {
		size_t n = strchr(spec, ' ') ? (size_t)(strchr(spec, ' ') - spec) : strlen(spec);
		if (n - 4 >= sizeof(word))
			return "mem= value too long";
		memcpy(word, spec + 4, n - 4);
		word[n - 4] = 0;
		if (parse_size(word, mem) < 0 || *mem < GUEST_MEM_MIN || *mem > GUEST_MEM_MAX)
			return "mem= must be a size from 2M to 64M, like mem=8M";
		spec += n;
		while (*spec == ' ')
			spec++;
	}
	if (strlen(spec) >= sizeof(d->cmdline))
		return "guest command line longer than 1023 characters";
	strlcpy(d->cmdline, spec, sizeof(d->cmdline));
	return NULL;
}

static void config_error(domid_t id, const char *what)
{
	printf("pvlab: d%u: %s\n", id, what);
	machine_exit(EXIT_CONFIG);
}

/* DomU d's side of the store (lab 6): its page (already zeroed and mapped RW in its direct
 * map, an ordinary page of its own), a port for dom0 and grant ref 1 for dom0.  After
 * hooks_domain_init(), which binds VIRQ_TIMER on port 1. */
static void store_setup(struct domain *d, mfn_t store)
{
	long port = evtchn_alloc_store_port(d, 0);
	d->store_mfn = store;
	if (port < 0 || gnttab_grant_store_page(d) < 0)
		config_error(d->id, "no memory left for its store page's grant table");
	d->store_evtchn = (u32)port;
}

struct domain *domain_build(const char *spec, const void *elf, size_t elf_len, bool privileged)
{
	domid_t id = 0;
	while (id < MAX_DOMAINS && domains[id].state != DOM_FREE)
		id++;
	if (id == MAX_DOMAINS)
		config_error(id, "too many domains (at most 8)");
	struct domain *d = &domains[id];
	memset(d, 0, sizeof(*d));	/* large (its port table): no temporary on the stack */
	d->id = id;
	d->privileged = privileged;
	struct layout l = { 0 };
	u64 mem;
	const char *err = parse_spec(d, spec, &mem);
	if (!err)
		err = elf_check(elf, elf_len, &l);
	if (!err)
		err = plan(&l, mem >> PAGE_SHIFT, !privileged);
	if (err)
		config_error(id, err);
	if (l.nr_pages + 8 > frames_free_count())
		config_error(id, "not enough free memory for this domain");

	/* The builder's own P2M: the hypervisor keeps none once the guest runs (the guest's
	 * mfn_list is the truth), so a scratch array serves every build. */
	static mfn_t p2m[GUEST_MEM_MAX / PAGE_SIZE];
	for (u64 pfn = 0; pfn < l.nr_pages; pfn++) {
		p2m[pfn] = page_alloc(id);
		frame_of(p2m[pfn])->count = 1;	/* the allocation reference */
		m2p[p2m[pfn]] = pfn;
	}
	d->shared_info_mfn = page_alloc(id);
	frame_of(d->shared_info_mfn)->count = 1;
	share_page_with_guest(d, d->shared_info_mfn);	/* we write it: never a page table */
	d->start_info_mfn = p2m[l.start_info];
	d->hypercall_mfn = p2m[(l.hypercall_page - l.virt_base) >> PAGE_SHIFT];
	d->nr_pages = d->tot_pages = d->max_pages = l.nr_pages;
	d->virt_base = l.virt_base;

	load_image(elf, &l, p2m);
	fill_hypercall_page(mfn_to_virt(d->hypercall_mfn));
	for (u64 pfn = 0; pfn < l.nr_pages; pfn++)	/* the guest's copy of the P2M */
		((u64 *)mfn_to_virt(p2m[l.p2m + pfn / 512]))[pfn % 512] = p2m[pfn];
	build_page_tables(&l, p2m);

	struct vcpu *v = &d->vcpu;
	*v = (struct vcpu){ .dom = d, .state = VCPU_RUNNABLE };
	v->regs.rip = l.entry;
	v->regs.rsp = l.virt_base + l.pt * PAGE_SIZE;	/* top of the boot stack */
	v->regs.rsi = l.virt_base + l.start_info * PAGE_SIZE;
	v->regs.rflags = RFLAGS_FIXED;
	fpu_init(v);
	if (vcpu_ops->vcpu_create(v, p2m[l.pt] << PAGE_SHIFT) < 0)
		panic("d%u: cannot create its vCPU", id);
	hooks_vcpu_init(v);
	hooks_domain_init(d);	/* time, events and the labs' subsystems */
	if (!privileged)
		store_setup(d, p2m[l.store]);
	fill_start_info(d, &l);
	d->state = DOM_RUNNING;
	printf("pvlab: d%u: %lu MiB, %s, entry %lx, command line \"", id, mem >> 20,
	       privileged ? "privileged" : "unprivileged", l.entry);
	console_write_untrusted(d->cmdline, strlen(d->cmdline));
	printf("\"\n");
	return d;
}

static void domain_end(struct domain *d, int reason)
{
	guest_console_flush(d);
	d->shutdown_reason = reason;
	d->state = DOM_DYING;
	d->vcpu.state = VCPU_DOWN;
}

static const char *const reason_name[] = {
	[SHUTDOWN_poweroff] = "poweroff", [SHUTDOWN_reboot] = "reboot",
	[SHUTDOWN_suspend] = "suspend", [SHUTDOWN_crash] = "crash",
	[SHUTDOWN_watchdog] = "watchdog",
};

const char *shutdown_reason_name(int reason)
{
	return reason >= 0 && reason <= SHUTDOWN_MAX ? reason_name[reason] : "?";
}

void domain_shutdown(struct domain *d, int reason)
{
	if (d->state != DOM_RUNNING)
		return;
	domain_end(d, reason);
	printf("pvlab: d%u shut down: %s\n", d->id, shutdown_reason_name(reason));
}

void domain_crash(struct domain *d, const char *fmt, ...)
{
	if (d->state != DOM_RUNNING)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->crash_why, sizeof(d->crash_why), fmt, ap);
	va_end(ap);
	guest_console_flush(d);
	printf("pvlab: d%u crashed: %s\n", d->id, d->crash_why);
	guest_dump(&d->vcpu);
	trace_dump(d->id, TRACE_DUMP);
	domain_end(d, SHUTDOWN_crash);
}

/* Give every frame of a dead domain back.  Called by the scheduler, never from the
 * domain's own exit handling, so nothing of it is in use any more.  With `preemptible`, it
 * works for at most a time slice and returns false if not done (call again; the domain
 * stays DOM_DYING meanwhile), so that other domains keep their slices. */
bool domain_destroy(struct domain *d, bool preemptible)
{
	if (!d->destroying) {
		d->destroying = true;
		hooks_domain_destroy(d);	/* once, though the teardown below may take several calls */
	}
	if (!mm_teardown(d, preemptible ? rdtsc() + (u64)sched_slice_ms * tsc_khz : 0))
		return false;
	vcpu_ops->vcpu_destroy(&d->vcpu);
	fpu_release(&d->vcpu);
	for (mfn_t m = 0; m < frames_total(); m++) {
		struct frame *f = frame_of(m);
		if (f->owner != d->id)
			continue;
		/* mm_teardown() gave every reference back (and said so if it could not). */
		f->count = f->type_count = 0;
		f->type = PGT_none;
		f->flags = 0;
		m2p[m] = ~0ULL;
		page_free(m);
	}
	d->state = DOM_DEAD;
	return true;
}
