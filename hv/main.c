/*
 * hv_main: from the boot command line to running domains.
 *
 *   <hypervisor options> -- <dom0 spec> -- <domU spec> ...
 *
 * Hypervisor options: sched_ms=N (time slice, 1..100 ms), fpu=eager|lazy (hv/fpu.c).  A domain spec is an optional
 * mem=SIZE followed by the guest's own command line.  With no spec at all we boot the demo.
 */
#include "hv/hv.h"

/* Far above the identity map of machine memory (kern/paging.c): never mapped. */
#define HOST_FAULT_ADDR 0x7e0000000000UL

const struct vcpu_ops *vcpu_ops;
extern u64 *m2p;
extern const u8 guest_image[], guest_image_end[];

#define DEMO "-- test=demo -- test=demo"

/* Pick the backend this CPU supports; nothing outside hv/svm.c and hv/vmx.c knows which. */
static void choose_backend(void)
{
	static const struct vcpu_ops *const all[] = { &svm_ops, &vmx_ops };
	const char *why[2];
	for (int i = 0; i < 2; i++) {
		if (!(why[i] = all[i]->probe())) {
			vcpu_ops = all[i];
			return;
		}
	}
	printf("pvlab: this CPU cannot run guests (%s; %s): run under QEMU with "
	       "'-cpu qemu64,+svm' (make qemu), KVM with nested virtualization, or Bochs with VMX\n",
	       why[0], why[1]);
	machine_exit(EXIT_CONFIG);
}

/* Pointers the compiler cannot prove NULL, for the NULL faults of host_fault_test(). */
static volatile u64 *volatile null_ptr;
static void (*volatile null_fn)(void);

/* Recurse with a big frame until the stack runs into its guard page (the bound is far
 * beyond the stack's size; it only keeps the compiler from calling this infinite). */
static u64 overflow_stack(u64 depth)
{
	volatile u8 frame[512];
	frame[0] = (u8)depth;
	if (depth > (1u << 24))
		return 0;
	return overflow_stack(depth + 1) + frame[0];
}

/* Be a buggy hypervisor, as make test's system tests ask (hostfault=KIND): each fault must
 * print a register dump and a backtrace that grade/symbolize.py names, and end the run with
 * the panic status, never reboot or go on.  Returns false for an unknown KIND. */
static bool host_fault_test(const char *kind)
{
	static const char *const kinds[] = { "1", "null", "nullwrite", "nullcall", "stack" };
	bool known = false;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		known |= !strcmp(kind, kinds[i]);
	if (!known)
		return false;
	printf("pvlab: hostfault=%s: faulting on purpose\n", kind);
	if (!strcmp(kind, "1"))
		(void)*(volatile u64 *)HOST_FAULT_ADDR;		/* an unmapped address */
	else if (!strcmp(kind, "null"))
		(void)*null_ptr;				/* page 0 is unmapped */
	else if (!strcmp(kind, "nullwrite"))
		*null_ptr = 1;
	else if (!strcmp(kind, "nullcall"))
		null_fn();
	else
		overflow_stack(0);				/* the guard page */
	return true;
}

static void parse_hv_option(const char *w, size_t n)
{
	char buf[64];
	u64 val;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, w, n);
	buf[n] = 0;
	if (!strncmp(buf, "sched_ms=", 9) && !parse_size(buf + 9, &val) && val >= 1 && val <= 100) {
		sched_slice_ms = (unsigned)val;
		return;
	}
	if (!strcmp(buf, "fpu=eager") || !strcmp(buf, "fpu=lazy")) {
		fpu_lazy = buf[4] == 'l';
		return;
	}
	if (!strncmp(buf, "hostfault=", 10) && host_fault_test(buf + 10))
		return;		/* make test: a host bug must dump and exit */
	printf("pvlab: bad hypervisor option '");
	console_write_untrusted(buf, strlen(buf));
	printf("' (known: sched_ms=1..100, fpu=eager|lazy, hostfault=1|null|nullwrite|nullcall|stack); "
	       "domains follow '--'\n");
	machine_exit(EXIT_CONFIG);
}

/* Does the command line name any domain (a word "--")? */
static bool names_domains(const char *s)
{
	for (const char *w = s; (w = strchr(w, '-')); w++)
		if ((w == s || w[-1] == ' ') && w[1] == '-' && (w[2] == ' ' || !w[2]))
			return true;
	return false;
}

void hv_main(const char *cmdline)
{
	static char line[4096];
	if (!names_domains(cmdline))
		cmdline = DEMO;
	if (strlen(cmdline) >= sizeof(line)) {
		printf("pvlab: command line too long\n");
		machine_exit(EXIT_CONFIG);
	}
	strlcpy(line, cmdline, sizeof(line));

	choose_backend();
	vcpu_ops->cpu_enable();
	time_init();
	u64 m2p_pages = ROUNDUP(frames_total() * sizeof(u64), PAGE_SIZE) / PAGE_SIZE;
	m2p = mfn_to_virt(page_alloc(OWNER_XEN));
	for (u64 i = 1; i < m2p_pages; i++)
		if (page_alloc(OWNER_XEN) != va2pa(m2p) / PAGE_SIZE + i)
			panic("m2p table not contiguous");
	memset(m2p, 0xff, m2p_pages * PAGE_SIZE);

	const u8 *elf = guest_image;
	size_t elf_len = (size_t)(guest_image_end - guest_image);
	if (boot.nr_mod) {	/* a guest image given as a boot module replaces the built-in one */
		elf = pa2va(boot.mod[0].start);
		elf_len = boot.mod[0].len;
	}

	/* Split at each word "--": the first part is ours, then one part per domain. */
	int ndom = 0;
	char *p = line, *seg = NULL;
	for (;;) {
		while (*p == ' ')
			p++;
		char *w = p;
		while (*p && *p != ' ')
			p++;
		bool end = !*w;
		if (end || (p - w == 2 && w[0] == '-' && w[1] == '-')) {
			if (seg) {
				*(w > line && w[-1] == ' ' ? w - 1 : w) = 0;
				domain_build(seg, elf, elf_len, ndom == 0);
				ndom++;
			}
			if (end)
				break;
			seg = p;
		} else if (!seg) {
			parse_hv_option(w, (size_t)(p - w));
		}
	}
	printf("pvlab: %d domain%s, %s backend, %lu frames free, time slice %u ms\n", ndom,
	       ndom == 1 ? "" : "s", vcpu_ops->name, frames_free_count(), sched_slice_ms);
	sched_run();
}
