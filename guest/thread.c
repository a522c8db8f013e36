/*
 * Guest threads: the smallest cooperative kind, enough for lab 8's lazy FPU.  Each thread
 * has a stack, saved callee-saved registers and an FPU/SSE save area of its own; a thread
 * runs until it calls thread_yield() (round robin) or returns.  Thread 0 is the code that
 * called thread_create() first (a test's own stack).
 *
 * The general registers are switched on every thread_yield().  The FPU registers are not:
 * fpu.c (lab 8) switches them lazily, on the first FPU instruction after a switch.
 */
#include "guest/kernel.h"

static struct thread threads[MAX_THREADS];
static int nthreads;
struct thread *thread_current;
bool threads_fpu_eager;	/* benchmark: switch FPU state at every thread switch instead */

/* Save the callee-saved registers on this stack, store RSP in *save, switch to new_rsp
 * and pop that thread's registers (thread_switch_stack in the asm below). */
void thread_switch_stack(u64 *save, u64 new_rsp);
__asm__(".text\n"
	"thread_switch_stack:\n"
	"	push %rbp; push %rbx; push %r12; push %r13; push %r14; push %r15\n"
	"	mov %rsp, (%rdi)\n"
	"	mov %rsi, %rsp\n"
	"	pop %r15; pop %r14; pop %r13; pop %r12; pop %rbx; pop %rbp\n"
	"	ret\n");

/* Where a new thread starts: run its function, then never be scheduled again. */
static void NORETURN thread_start(void)
{
	thread_current->fn(thread_current->arg);
	thread_current->done = true;
	for (;;)
		thread_yield();
}

/* The thread of the running code, made thread 0 the first time. */
static void threads_init(void)
{
	if (nthreads)
		return;
	thread_current = &threads[nthreads++];
	thread_current->id = 0;
	fpu_thread_init(thread_current);
}

/* Make a thread that will run fn(arg) at some later thread_yield(); NULL if there are
 * MAX_THREADS already or no memory for its stack. */
struct thread *thread_create(void (*fn)(void *), void *arg)
{
	threads_init();
	if (nthreads >= MAX_THREADS)
		return NULL;
	u64 *stack = alloc_page();
	if (!stack)
		return NULL;
	struct thread *t = &threads[nthreads];
	*t = (struct thread){ .id = nthreads, .fn = fn, .arg = arg };
	fpu_thread_init(t);
	u64 *top = stack + PAGE_SIZE / 8;
	*--top = 0;			/* alignment: thread_start sees RSP = 8 mod 16 */
	*--top = (u64)thread_start;	/* thread_switch_stack's ret */
	for (int i = 0; i < 6; i++)
		*--top = 0;		/* rbp, rbx, r12-r15 */
	t->rsp = (u64)top;
	nthreads++;
	return t;
}

/* Run the next thread that has not finished (round robin); back here when our turn
 * comes again.  With no other thread it returns at once. */
void thread_yield(void)
{
	threads_init();
	struct thread *me = thread_current, *next = me;
	for (int k = 1; k <= nthreads; k++) {
		struct thread *t = &threads[(me->id + k) % nthreads];
		if (!t->done) {
			next = t;
			break;
		}
	}
	if (next == me)
		return;
	if (threads_fpu_eager) {
		fxsave(&fpu_owner_thread->fpu);
		fxrstor(&next->fpu);
		fpu_owner_thread = next;
	} else {
		fpu_thread_switch(next);
	}
	thread_current = next;
	thread_switch_stack(&me->rsp, next->rsp);
}

/* Yield until every thread but the caller has finished. */
void thread_join_all(void)
{
	for (;;) {
		bool all = true;
		for (int i = 0; i < nthreads; i++)
			all &= threads[i].done || &threads[i] == thread_current;
		if (all)
			return;
		thread_yield();
	}
}
