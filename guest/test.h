/*
 * The in-guest test library (in the style of XTF and kvm-unit-tests).  A test is a function
 * registered with TEST(); the command line picks tests with test=NAME[,NAME...].  Every
 * check prints one line, and the run ends with one result line the grader reads:
 *
 *   TEST cpuid                      a test starts
 *   PASS: signature                 a check held
 *   FAIL: signature: got 0, want 1  a check failed, and why
 *   SKIP: ...: why                  a check could not run here
 *   Test result: SUCCESS            (or FAILURE / SKIP / ERROR), always last
 */
#ifndef PVLAB_GUEST_TEST_H
#define PVLAB_GUEST_TEST_H

#include "guest/kernel.h"

struct test {
	const char *name;
	void (*fn)(void);
	const char *summary;
};

#define TEST(fn, name, summary)                                                       \
	static void fn(void);                                                         \
	static const struct test __test_##fn __attribute__((used, section(".tests"), \
							    aligned(8))) = { name, fn, summary }; \
	static void fn(void)

/* Report one check.  Returns ok so a test can stop early on a failure it cannot survive. */
bool check(bool ok, const char *what, ...) PRINTF(2, 3);
/* Report a check of got == want, printing both on failure. */
bool check_eq(long got, long want, const char *what);
void skip(const char *what, const char *why);
/* The value of option `key` on our command line (e.g. "peer"), or NULL. */
const char *test_option(const char *key);
/* Option key=N (a number, as parse_size() reads it), or def if it is absent or no number. */
u64 test_option_num(const char *key, u64 def);
/* Is port domain dom's store port (its start_info.store_evtchn, unbound for dom0)?  Tests
 * that find a peer's port by trying to bind each in turn skip it: dom0 could bind it, and
 * the store needs it.  Asked with domctl, so false in a domU (which cannot bind it anyway). */
bool is_store_port(domid_t dom, unsigned port);
/* Read or write *p, catching a fault: the vector it raised, or -1 if none. */
int read_fault(volatile u64 *p);
int write_fault(volatile u64 *p, u64 v);
/* Fill *p with a full FXSAVE image that no other n produces: every x87 and XMM register,
 * FCW, FSW (condition codes), the tag word and MXCSR (rounding, flush-to-zero, sticky flags). */
void fxsave_pattern(struct fxsave_area *p, unsigned n);
/* Where two FXSAVE images differ in state the guest owns (not FOP/FIP/FDP, which the CPU
 * updates by itself), or NULL if nowhere. */
const char *fxsave_diff(const struct fxsave_area *a, const struct fxsave_area *b);

#endif
