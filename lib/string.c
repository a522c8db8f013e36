/* Freestanding string and memory functions.  GCC may emit calls to memset/memcpy itself. */
#include "lib.h"

void *memset(void *d, int c, size_t n)
{
	u8 *p = d;
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;
	if (dp < sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++)
		if (*a != *b || !*a)
			return (u8)*a - (u8)*b;
	return 0;
}

char *strchr(const char *s, int c)
{
	for (; *s; s++)
		if (*s == (char)c)
			return (char *)s;
	return c ? NULL : (char *)s;
}

size_t strlcpy(char *d, const char *s, size_t n)
{
	size_t len = strlen(s);
	if (n) {
		size_t k = len < n - 1 ? len : n - 1;
		memcpy(d, s, k);
		d[k] = 0;
	}
	return len;
}

int parse_size(const char *s, u64 *out)
{
	u64 v = 0, base = 10;
	int digits = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	for (;; s++, digits++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (v > (~0ULL - (u64)d) / base)
			return -1;	/* overflow */
		v = v * base + (u64)d;
	}
	if (!digits)
		return -1;
	int shift = 0;
	switch (*s) {
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	}
	if (*s || (shift && v > (~0ULL >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

int cmdline_get(const char *cmdline, const char *key, char *val, size_t n)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > klen && !strncmp(w, key, klen) && w[klen] == '=') {
			size_t len = (size_t)(p - w) - klen - 1;
			if (n) {
				size_t k = len < n - 1 ? len : n - 1;
				memcpy(val, w + klen + 1, k);
				val[k] = 0;
			}
			return 1;
		}
	}
	return 0;
}

unsigned find_first_zero(const unsigned long *a, unsigned n)
{
	for (unsigned i = 0; i < n; i += BITS_PER_LONG) {
		unsigned long w = ~a[i / BITS_PER_LONG];
		if (w) {
			unsigned b = i + ffs_long(w);
			return b < n ? b : n;
		}
	}
	return n;
}

/* Is this the first time we see the pointer what?  Remembers it in seen[n] (NULL-padded).
 * Once seen[] is full, everything not remembered counts as new: a notice said twice is
 * better than a notice lost (the kit's proof looks for every stub's notice).  Callers
 * size seen[] for all the distinct notices they have, so a full table is a sizing bug. */
bool first_time(const char **seen, size_t n, const char *what)
{
	size_t i;
	for (i = 0; i < n && seen[i]; i++)
		if (seen[i] == what)
			return false;
	if (i < n)
		seen[i] = what;
	return true;
}
