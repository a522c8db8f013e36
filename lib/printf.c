/* printf-style formatting, shared by hypervisor, guest and host tests. */
#include "lib.h"

struct spec {
	int width;
	bool zero, left;
};

/* Emit s (length n) padded to the spec's width.  Returns characters written. */
static int emit(putc_fn put, void *arg, const char *s, int n, const struct spec *sp)
{
	int pad = sp->width > n ? sp->width - n : 0, out = 0;
	char pc = sp->zero && !sp->left ? '0' : ' ';
	/* A zero-padded negative number keeps its sign in front of the zeros. */
	if (pc == '0' && n && s[0] == '-') {
		put(arg, '-');
		s++, n--, out++;
	}
	if (!sp->left)
		for (; pad; pad--, out++)
			put(arg, pc);
	for (int i = 0; i < n; i++, out++)
		put(arg, s[i]);
	for (; pad; pad--, out++)
		put(arg, ' ');
	return out;
}

/* Format v in the given base into the end of buf; returns the start of the digits. */
static char *utoa(char *end, unsigned long long v, unsigned base, bool upper)
{
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	*--end = 0;
	do {
		*--end = dig[v % base];
		v /= base;
	} while (v);
	return end;
}

int vformat(putc_fn put, void *arg, const char *fmt, va_list ap)
{
	int out = 0;
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(arg, *fmt);
			out++;
			continue;
		}
		struct spec sp = { 0, false, false };
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				sp.zero = true;
			else if (*fmt == '-')
				sp.left = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			sp.width = sp.width * 10 + (*fmt++ - '0');
		int longs = 0;
		while (*fmt == 'l' || *fmt == 'z')
			longs++, fmt++;
		char buf[24], *s;
		unsigned long long u;
		long long d;
		switch (*fmt) {
		case 'd':
		case 'i':
			d = longs ? va_arg(ap, long long) : va_arg(ap, int);
			u = d < 0 ? -(unsigned long long)d : (unsigned long long)d;
			s = utoa(buf + sizeof(buf), u, 10, false);
			if (d < 0)
				*--s = '-';
			out += emit(put, arg, s, (int)strlen(s), &sp);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			u = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			s = utoa(buf + sizeof(buf), u, *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16,
				 *fmt == 'X');
			out += emit(put, arg, s, (int)strlen(s), &sp);
			break;
		case 'p':
			u = (unsigned long long)(uintptr_t)va_arg(ap, void *);
			s = utoa(buf + sizeof(buf), u, 16, false);
			*--s = 'x';
			*--s = '0';
			out += emit(put, arg, s, (int)strlen(s), &sp);
			break;
		case 's':
			s = va_arg(ap, char *);
			if (!s)
				s = "(null)";
			out += emit(put, arg, s, (int)strlen(s), &sp);
			break;
		case 'c':
			buf[0] = (char)va_arg(ap, int);
			out += emit(put, arg, buf, 1, &sp);
			break;
		case '%':
			put(arg, '%');
			out++;
			break;
		case 0:
			return out;
		default:	/* unknown conversion: print it literally so the bug is visible */
			put(arg, '%');
			put(arg, *fmt);
			out += 2;
		}
	}
	return out;
}

struct sbuf {
	char *p;
	size_t left;
};

static void sbuf_put(void *arg, char c)
{
	struct sbuf *b = arg;
	if (b->left > 1) {
		*b->p++ = c;
		b->left--;
	}
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct sbuf b = { buf, n };
	int len = vformat(sbuf_put, &b, fmt, ap);
	if (n)
		*b.p = 0;
	return len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return len;
}
