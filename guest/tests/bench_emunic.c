/*
 * Lab 6 benchmark, run by `make bench` (tools/bench.py, lab6_nic()): frames from d1 to d2
 * through the emulated NIC (include/public/io/emunic.h), the way a fully virtualized guest
 * drives a real device -- a VM exit per register access and per 4 bytes.  The sender
 * (role=send peer=D) prints "BENCH emunic-<size> <TSC cycles per frame>" and
 * "BENCH emunic-<size>-exits <VM exits per 1000 frames>", all domains' exits counted
 * (PVLAB_DEBUG_exit_total), from its first send until the receiver's acknowledgement of
 * the last frame.  The receiver (role=recv peer=D) polls, yielding while its queue is
 * empty, as a driver of a device without an interrupt would.  Nothing here asserts a speed.
 */
#include "guest/test.h"
#include "public/io/emunic.h"

static const struct { u32 len, frames; } cases[] = { { 64, 2000 }, { 4096, 200 } };

static u64 exit_total(void)
{
	return (u64)HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_total, 0);
}

static void yield(void)
{
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

/* Send n frames of len bytes (seq in the first word), waiting while the queue is full;
 * then wait for the receiver's 4-byte acknowledgement.  False on an error. */
static bool send_case(domid_t peer, u8 *buf, u32 len, u32 n)
{
	for (u32 seq = 0; seq < n; seq++) {
		memcpy(buf, &seq, 4);
		long r = emunic_send(peer, buf, len);
		while (r == -XEN_EAGAIN) {
			yield();
			r = emunic_resend(peer);
		}
		if (r)
			return check(false, "send of frame %u: %ld", seq, r);
	}
	u32 ack = 0;
	long r;
	while ((r = emunic_recv(&ack, sizeof(ack), NULL)) == 0)
		yield();
	return r == 4 && ack == n ? true : check(false, "the acknowledgement: %ld, %u", r, ack);
}

/* Receive n frames of len bytes in order, then acknowledge them. */
static bool recv_case(domid_t peer, u8 *buf, u32 len, u32 n)
{
	for (u32 seq = 0; seq < n;) {
		long r = emunic_recv(buf, EMUNIC_FRAME_MAX, NULL);
		if (!r) {
			yield();
			continue;
		}
		u32 got;
		memcpy(&got, buf, 4);
		if (r != (long)len || got != seq)
			return check(false, "frame %u: length %ld, seq %u", seq, r, got);
		seq++;
	}
	return emunic_send(peer, &n, sizeof(n)) == 0;
}

TEST(test_bench_emunic, "bench-emunic", "frames between two domains through the emulated NIC (lab 6)")
{
	const char *role = test_option("role");	/* a static buffer: the next call reuses it */
	if (!role) {	/* dom0: no part in it (the PV path's netback lives there) */
		skip("bench-emunic", "no role=send or role=recv");
		return;
	}
	bool send = !strcmp(role, "send");
	const char *p = test_option("peer");
	u64 peer;
	if (!check(p && parse_size(p, &peer) == 0, "peer=D given"))
		return;
	u8 *buf = alloc_page();
	memset(buf, 0x5a, PAGE_SIZE);
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		u32 len = cases[i].len, n = cases[i].frames;
		if (!send) {
			if (!recv_case((domid_t)peer, buf, len, n))
				return;
			continue;
		}
		u64 e = exit_total(), t = rdtsc();
		if (!send_case((domid_t)peer, buf, len, n))
			return;
		t = rdtsc() - t, e = exit_total() - e;
		printf("BENCH emunic-%u %lu\n", len, t / n);
		printf("BENCH emunic-%u-exits %lu\n", len, e * 1000 / n);
	}
}
