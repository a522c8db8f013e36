/* The in-guest test library: selection, checks and the final result line (guest/test.h). */
#include "guest/test.h"

extern const struct test __tests_start[], __tests_end[];
static unsigned passed, failed, skipped;

bool check(bool ok, const char *what, ...)
{
	va_list ap;
	printf(ok ? "PASS: " : "FAIL: ");
	va_start(ap, what);
	vprintf(what, ap);
	va_end(ap);
	printf("\n");
	ok ? passed++ : failed++;
	return ok;
}

bool check_eq(long got, long want, const char *what)
{
	if (got == want)
		return check(true, "%s", what);
	return check(false, "%s: got %ld (%lx), want %ld (%lx)", what, got, got, want, want);
}

void skip(const char *what, const char *why)
{
	printf("SKIP: %s: %s\n", what, why);
	skipped++;
}

const char *test_option(const char *key)
{
	static char val[128];
	return cmdline_get(start_info->cmd_line, key, val, sizeof(val)) ? val : NULL;
}

u64 test_option_num(const char *key, u64 def)
{
	const char *s = test_option(key);
	u64 v;
	return s && parse_size(s, &v) == 0 ? v : def;
}

static const struct test *find_test(const char *name, size_t n)
{
	for (const struct test *t = __tests_start; t < __tests_end; t++)
		if (strlen(t->name) == n && !strncmp(t->name, name, n))
			return t;
	return NULL;
}

/* Run the tests named by test=a,b,... and print the result line.  Returns the shutdown
 * reason: poweroff when every check passed, crash otherwise. */
unsigned run_tests(void)
{
	const char *list = test_option("test");
	bool error = false;
	if (!list) {
		printf("no test= on the command line; tests:");
		for (const struct test *t = __tests_start; t < __tests_end; t++)
			printf(" %s", t->name);
		printf("\n");
		list = "";
		error = true;
	}
	char names[128];
	strlcpy(names, list, sizeof(names));
	for (char *p = names; *p;) {
		char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const struct test *t = find_test(p, n);
		if (!t) {
			p[n] = 0;
			printf("unknown test '%s'\n", p);
			error = true;
		} else {
			printf("TEST %s: %s\n", t->name, t->summary);
			t->fn();
		}
		p += n + (comma ? 1 : 0);
	}
	const char *result = error ? "ERROR" : failed ? "FAILURE" : passed ? "SUCCESS" : skipped ? "SKIP" : "ERROR";
	printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	printf("Test result: %s\n", result);
	return failed || error ? SHUTDOWN_crash : SHUTDOWN_poweroff;
}

bool is_store_port(domid_t dom, unsigned port)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo,
				 .interface_version = XEN_DOMCTL_INTERFACE_VERSION, .domain = dom };
	if (HYPERVISOR_domctl(&op) < 0 || op.u.getdomaininfo.domain != dom)
		return false;
	return op.u.getdomaininfo.store_evtchn != 0 && op.u.getdomaininfo.store_evtchn == port;
}

int read_fault(volatile u64 *p)
{
	fault_reset();
	__asm__ volatile("1: mov (%0), %%rax\n2:\n" EXTABLE(1b, 2b) :: "r"(p) : "rax", "memory");
	return last_fault.vector;
}

int write_fault(volatile u64 *p, u64 v)
{
	fault_reset();
	__asm__ volatile("1: mov %1, (%0)\n2:\n" EXTABLE(1b, 2b) :: "r"(p), "r"(v) : "memory");
	return last_fault.vector;
}

void fxsave_pattern(struct fxsave_area *p, unsigned n)
{
	memset(p, 0, sizeof(*p));
	p->fcw = (u16)(0x7f | (n & 3) << 10 | ((n >> 2) & 3) << 8);
	p->fsw = (u16)((n & 7) << 8);
	p->ftw = 0xff;
	p->mxcsr = 0x1f80 | (n % 3 + 1) << 13 | (n & 0x3f);
	for (u64 i = 0; i < 8; i++) {
		u64 mant = 0x8000000000000000ULL | (u64)n << 40 | i << 32 | 0x5ec7e7;
		u16 exp = (u16)(0x4000 + i + n);
		memcpy(p->st[i], &mant, 8);
		memcpy(p->st[i] + 8, &exp, 2);
	}
	for (u64 i = 0; i < 16; i++) {	/* "SECRET", n and i: easy to spot in a leak */
		u64 q[2] = { 0x5345435245540000ULL | (u64)n << 8 | i, ~((u64)n << 32 | i) };
		memcpy(p->xmm[i], q, 16);
	}
}

const char *fxsave_diff(const struct fxsave_area *a, const struct fxsave_area *b)
{
	if (a->fcw != b->fcw)
		return "FCW";
	if (a->fsw != b->fsw)
		return "FSW";
	if (a->ftw != b->ftw)
		return "the x87 tag word";
	if (a->mxcsr != b->mxcsr)
		return "MXCSR";
	for (int i = 0; i < 8; i++)
		if (memcmp(a->st[i], b->st[i], 10))
			return "an x87 register";
	for (int i = 0; i < 16; i++)
		if (memcmp(a->xmm[i], b->xmm[i], 16))
			return "an XMM register";
	return NULL;
}
