/*
 * Lab solution markers.  Every piece of student work in the tree is written as
 *
 *	#if SOLUTION(3)
 *		... the reference solution ...
 *	#else // SOLUTION(3)
 *		... the stub students start from: a comment naming the task and a failing
 *		    return or panic("lab 3: <function> not implemented") ...
 *	#endif // SOLUTION(3)
 *
 * The three marker lines must look exactly like that (leading blanks allowed), never nest,
 * and the stub part must name its lab ("lab 3").  labs/release.py turns the tree into a
 * student release by keeping only the stub of lab N and later; `make STRIP=N` compiles the
 * same choice in place, which is how an instructor tries a stub without making a release.
 */
#ifndef PVLAB_SOLUTION_H
#define PVLAB_SOLUTION_H

#ifndef PVLAB_STRIP
#define PVLAB_STRIP 100		/* first lab whose solution is compiled out */
#endif
#define SOLUTION(lab) ((lab) < PVLAB_STRIP)

#endif
