/* lib/string.c and the bit helpers in lib.h. */
#include "check.h"
#include "lib.h"
#include "x86/hw.h"

int main(void)
{
	u64 v = 0;
	CHECK(parse_size("8M", &v) == 0 && v == 8ULL << 20);
	CHECK(parse_size("0x1000", &v) == 0 && v == 0x1000);
	CHECK(parse_size("3k", &v) == 0 && v == 3072);
	CHECK(parse_size("2G", &v) == 0 && v == 2ULL << 30);
	CHECK(parse_size("12", &v) == 0 && v == 12);
	CHECK(parse_size("", &v) == -1);
	CHECK(parse_size("8MB", &v) == -1);
	CHECK(parse_size("-1", &v) == -1);
	CHECK(parse_size("0x", &v) == -1);
	CHECK(parse_size("99999999999999999999", &v) == -1);	/* overflow */
	CHECK(parse_size("17179869184G", &v) == -1);		/* overflow in the shift */

	char val[16];
	CHECK(cmdline_get("a=1 test=cpuid,msr mem=8M", "test", val, sizeof(val)) == 1);
	CHECK_STR(val, "cpuid,msr");
	CHECK(cmdline_get("atest=1", "test", val, sizeof(val)) == 0);
	CHECK(cmdline_get("test", "test", val, sizeof(val)) == 0);
	CHECK(cmdline_get("x=aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", val, sizeof(val)) == 1);
	CHECK(strlen(val) == sizeof(val) - 1);			/* truncated, terminated */

	char d[4];
	CHECK(pv_strlcpy(d, "hello", sizeof(d)) == 5);
	CHECK_STR(d, "hel");

	const char *seen[2] = { 0, 0 };
	static const char a[] = "a", b[] = "b", c[] = "c";
	CHECK(first_time(seen, 2, a) && !first_time(seen, 2, a));
	CHECK(first_time(seen, 2, b) && !first_time(seen, 2, b) && !first_time(seen, 2, a));
	CHECK(first_time(seen, 2, c) && first_time(seen, 2, c));	/* full: never dropped */
	CHECK(!first_time(seen, 2, a));		/* ... and what was seen stays seen */

	unsigned long bits[2] = { 0, 0 };
	set_bit(3, bits);
	set_bit(64, bits);
	CHECK(test_bit(3, bits) && test_bit(64, bits) && !test_bit(4, bits));
	CHECK(bits[1] == 1);
	clear_bit(3, bits);
	CHECK(!test_bit(3, bits));
	unsigned long full[2] = { ~0UL, 0x7 };
	CHECK(find_first_zero(full, 128) == 67);
	CHECK(find_first_zero(full, 66) == 66);
	CHECK(ffs_long(0x80) == 7);
	CHECK(IS_CANONICAL(0x00007fffffffffffULL));
	CHECK(IS_CANONICAL(0xffff800000000000ULL));
	CHECK(!IS_CANONICAL(0x0000800000000000ULL));
	CHECK(!IS_CANONICAL(0x8000000000000000ULL));
	CHECK(PT_INDEX(0x400000ULL, 2) == 2 && PT_INDEX(0x400000ULL, 1) == 0);
	CHECK(PT_INDEX(0xffffffff80000000ULL, 4) == 511 && PT_INDEX(0xffffffff80000000ULL, 3) == 510);
	return check_report("host lib");
}
