/* Multicall batching, and the raw hypercall path the hostile tests use. */
#include "guest/kernel.h"

unsigned mc_add(struct mc_batch *b, unsigned op, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
#if SOLUTION(1)
	if (b->n == MULTICALL_MAX)
		mc_flush(b);
	struct multicall_entry *e = &b->e[b->n];
	*e = (struct multicall_entry){ .op = op, .args = { a1, a2, a3, a4, a5, 0 } };
	return b->n++;
#else // SOLUTION(1)
	/* Lab 1: append an entry (flushing a full batch first) and return its index. */
	(void)b, (void)op, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5;
	panic("lab 1: mc_add not implemented");
#endif // SOLUTION(1)
}

long mc_flush(struct mc_batch *b)
{
#if SOLUTION(1)
	long r = b->n ? HYPERVISOR_multicall(b->e, b->n) : 0;
	b->n = 0;
	return r;
#else // SOLUTION(1)
	/* Lab 1: issue the batch with one HYPERVISOR_multicall and empty it. */
	(void)b;
	panic("lab 1: mc_flush not implemented");
#endif // SOLUTION(1)
}

long hypercall_raw(u64 nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	/* Bytes 5.. of every slot are the vendor's hypercall instruction followed by RET, so
	 * calling there with our own RAX reaches the hypervisor with any number at all. */
	register u64 r10 __asm__("r10") = a4;
	register u64 r8 __asm__("r8") = a5;
	long ret;
	__asm__ volatile("call *%[insn]"
			 : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
			 : [insn] "r"(hypercall_page + 5), "a"(nr)
			 : "memory", "rcx", "r11");
	return ret;
}
