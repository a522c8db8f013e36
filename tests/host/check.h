/* A very small unit-test harness for host-side tests of pvlab's pure code. */
#ifndef PVLAB_HOST_CHECK_H
#define PVLAB_HOST_CHECK_H
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
/* lib/ is compiled for these tests with its C-library names prefixed by pv_ (Makefile), so
 * that it cannot collide with the host's C library. */
int pv_snprintf(char *buf, size_t n, const char *fmt, ...);
int pv_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
size_t pv_strlcpy(char *d, const char *s, size_t n);

static int check_passed, check_failed;

#define CHECK(cond)                                                                \
	do {                                                                       \
		if (cond) {                                                        \
			check_passed++;                                            \
		} else {                                                           \
			check_failed++;                                            \
			printf("FAIL: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                             \
	do {                                                                             \
		const char *g_ = (got), *w_ = (want);                                    \
		if (!strcmp(g_, w_)) {                                                   \
			check_passed++;                                                  \
		} else {                                                                 \
			check_failed++;                                                  \
			printf("FAIL: %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_, w_); \
		}                                                                        \
	} while (0)

/* The closing line that make test adds up. */
static int check_report(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed != 0;
}
#endif
