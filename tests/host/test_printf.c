/* lib/printf.c against the C library's printf, on the conversions pvlab supports. */
#include "check.h"
#include "lib.h"

static const char *fmt(const char *f, ...)
{
	static char buf[128];
	va_list ap;
	va_start(ap, f);
	pv_vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	return buf;
}

int main(void)
{
	char want[128];
#define SAME(...) do { snprintf(want, sizeof(want), __VA_ARGS__); CHECK_STR(fmt(__VA_ARGS__), want); } while (0)
	SAME("%d %i %u", -42, 7, 4000000000u);
	SAME("%x %X %o", 0xbeef, 0xbeef, 8);
	SAME("%lx %lu %ld", 0xffffffffffffffffUL, 18446744073709551615UL, -9223372036854775807L - 1);
	SAME("[%5d] [%-5d] [%05d] [%05d]", 42, 42, 42, -42);
	SAME("[%016lx] [%8s] [%-8s]|", 0x1234UL, "ab", "ab");
	SAME("%c%c %%", 'o', 'k');
	SAME("%s", "");
	SAME("%zu", (size_t)12345);
	CHECK_STR(fmt("%p", (void *)0x1000), "0x1000");
	CHECK_STR(fmt("%s", (char *)NULL), "(null)");
	CHECK_STR(fmt("%q"), "%q");
	/* truncation: always terminated, returns the full length */
	char small[4];
	CHECK(pv_snprintf(small, sizeof(small), "%s", "hello") == 5);
	CHECK_STR(small, "hel");
	CHECK(pv_snprintf(small, 0, "%d", 1) == 1);
	return check_report("host printf");
}
