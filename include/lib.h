/*
 * The small freestanding C library shared by the hypervisor (kern/, hv/), the PV guest
 * (guest/) and the host-side unit tests (tests/host/).  Nothing here touches hardware.
 */
#ifndef PVLAB_LIB_H
#define PVLAB_LIB_H

#include "types.h"
#include "solution.h"

/* lib/string.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
size_t strlcpy(char *d, const char *s, size_t n);
bool first_time(const char **seen, size_t n, const char *what);
/* Parse an unsigned number (0x.. hex or decimal) with an optional K/M/G suffix.
 * Returns 0 and sets *out on success, -1 if s is not entirely such a number. */
int parse_size(const char *s, u64 *out);
/* Find "key=" among blank-separated words of cmdline; copy its value into val.
 * Returns 1 if found, 0 if not. */
int cmdline_get(const char *cmdline, const char *key, char *val, size_t n);

/* lib/printf.c: the formatting core.  Supports %d %i %u %x %X %o %p %s %c %%, the l/ll/z
 * length modifiers, a width, zero padding and left adjustment ('-'). */
typedef void (*putc_fn)(void *arg, char c);
int vformat(putc_fn put, void *arg, const char *fmt, va_list ap);
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) PRINTF(3, 4);

/* Bit helpers on arrays of unsigned long (the layout Xen uses for event bitmaps). */
#define BITS_PER_LONG 64
static inline int test_bit(unsigned nr, const unsigned long *a)
{
	return (a[nr / BITS_PER_LONG] >> (nr % BITS_PER_LONG)) & 1;
}
static inline void set_bit(unsigned nr, unsigned long *a)
{
	a[nr / BITS_PER_LONG] |= 1UL << (nr % BITS_PER_LONG);
}
static inline void clear_bit(unsigned nr, unsigned long *a)
{
	a[nr / BITS_PER_LONG] &= ~(1UL << (nr % BITS_PER_LONG));
}
/* Index of the lowest set bit of x; x must not be 0. */
static inline unsigned ffs_long(unsigned long x)
{
	return (unsigned)__builtin_ctzl(x);
}
/* Index of the first clear bit below n in a, or n if there is none. */
unsigned find_first_zero(const unsigned long *a, unsigned n);

#endif
