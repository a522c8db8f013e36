/*
 * Lazy FPU switching between guest threads (lab 8).  A thread switch leaves the FPU
 * registers as they are and only sets CR0.TS -- through the fpu_taskswitch hypercall, as
 * a PV guest does not rely on writing CR0 itself.  The first x87/MMX/SSE instruction of the
 * next thread then raises #NM, and fpu_nm_trap() moves the registers to that thread: it
 * saves them into the thread that owns them and loads the current thread's.  A thread that
 * never touches the FPU costs one hypercall per switch and no save or restore.
 */
#include "guest/kernel.h"

struct thread *fpu_owner_thread;	/* whose state the registers hold; NULL = nobody's */

/* Give t the reset state (FCW 0x37f, MXCSR 0x1f80, all else zero).  The first thread owns
 * the registers as they are: they hold its state already. */
void fpu_thread_init(struct thread *t)
{
	memset(&t->fpu, 0, sizeof(t->fpu));
	t->fpu.fcw = FCW_RESET;
	t->fpu.mxcsr = MXCSR_RESET;
	t->fpu_traps = 0;
	if (!fpu_owner_thread)
		fpu_owner_thread = t;
}

/* The running thread is about to switch to next (thread_yield). */
void fpu_thread_switch(struct thread *next)
{
#if SOLUTION(8)
	(void)next;
	/* Whoever runs next, the registers stay; its first FPU instruction raises #NM. */
	HYPERVISOR_fpu_taskswitch(1);
#else // SOLUTION(8)
	/* Lab 8: make the next thread's first FPU instruction raise #NM. */
	(void)next;
	lab_todo("lab 8: fpu_thread_switch not implemented");
#endif // SOLUTION(8)
}

/* An #NM in the guest.  Returns true if handled (the instruction is re-executed), false if
 * threads are not in use: an #NM nobody expects, which trap.c reports as a crash. */
bool fpu_nm_trap(void)
{
	if (!thread_current)
		return false;
#if SOLUTION(8)
	struct thread *me = thread_current;
	HYPERVISOR_fpu_taskswitch(0);
	me->fpu_traps++;
	if (fpu_owner_thread == me)
		return true;	/* switched away and back: the registers are still ours */
	if (fpu_owner_thread)
		fxsave(&fpu_owner_thread->fpu);
	fxrstor(&me->fpu);
	fpu_owner_thread = me;
	return true;
#else // SOLUTION(8)
	/* Lab 8: clear TS, save the registers into the thread that owns them (if another),
	 * load the current thread's and make it the owner. */
	lab_todo("lab 8: fpu_nm_trap not implemented");
	return false;
#endif // SOLUTION(8)
}
