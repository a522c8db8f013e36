/*
 * Lab 6's emulated NIC (include/public/io/emunic.h, hv/emunic.c) under load and under
 * attack, between domains whose roles come from the command line (tests/system/emunic.json):
 * a stream of frames that must arrive whole and in order, a driver that does everything a
 * driver must not, and a receiver that dies with frames queued and one half written.
 */
#include "guest/test.h"
#include "public/io/emunic.h"

#define STALL_NS (10ULL * 1000 * 1000 * 1000)	/* no progress for this long: fail, not hang */

/* Run one IN/OUT that may fault: the vector it raised, or -1 (as hostile.c's FAULT_OF). */
#define IO_FAULT(insn, ...)                                                           \
	({                                                                           \
		fault_reset();                                                       \
		__asm__ volatile("push %%rax; push %%rdx; push %%rcx; push %%rsi; push %%rdi\n" \
				 "1: " insn "\n"                                     \
				 "2: pop %%rdi; pop %%rsi; pop %%rcx; pop %%rdx; pop %%rax\n" \
				 EXTABLE(1b, 2b) ::__VA_ARGS__ : "memory");          \
		last_fault.vector;                                                   \
	})

static void out(unsigned reg, u32 v)
{
	outl((u16)(EMUNIC_PORT_BASE + reg), v);
}

static void yield(void)
{
	HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

static long domain_state(domid_t d)
{
	return HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_domain_state, d);
}

/* Frame seq of the stream from domain src: its length and contents, a function of
 * (src, seq, offset) with seq in the first 4 bytes, so that a lost, repeated, reordered or
 * corrupted frame differs.  Lengths cover 1..max (seq 0 is 1 byte, every 64th from seq 1
 * is max, every 64th from seq 2 anywhere in 1..max) but are mostly at most 128 bytes, so
 * that thousands of frames -- a VM exit per 4 bytes each way -- take seconds under TCG. */
static unsigned frame_len(u32 seq, unsigned max)
{
	u64 h = (u64)seq * 2654435761u >> 7;
	if (seq == 0)
		return 1;
	if (seq % 64 == 1)
		return max;
	return 1 + (unsigned)(h % (seq % 64 == 2 ? max : MIN(max, 128u)));
}

static void frame_fill(u8 *p, domid_t src, u32 seq, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (u8)(seq * 131 + i * 7 + (i >> 8) + src * 61);
	if (len >= 4)
		memcpy(p, &seq, 4);
}

/* Compare a received frame against seq's: "" if it is seq, else what differs. */
static const char *frame_diff(const u8 *got, long n, domid_t src, u32 seq, unsigned max, u8 *want)
{
	unsigned len = frame_len(seq, max);
	if (n != (long)len)
		return "length";
	frame_fill(want, src, seq, len);
	return memcmp(got, want, len) ? "contents" : "";
}

static u8 *txbuf, *rxbuf, *want;

/* Wait until domain d's state is at least `state` (2: dying, 3: dead); false on a stall. */
static bool wait_state(domid_t d, long state)
{
	u64 end = get_system_time() + STALL_NS;
	while (domain_state(d) < state)
		if (get_system_time() > end)
			return false;
		else
			yield();
	return true;
}

/* Options tx=N rx=N peer=D self=D max=BYTES: send N frames to the peer and receive N from
 * it at once, resending a frame the device refused because the peer's queue was full. */
TEST(test_emunic_stream, "emunic-stream", "frames between two domains arrive whole and in order")
{
	u32 tx = (u32)test_option_num("tx", 0), rx = (u32)test_option_num("rx", 0);
	domid_t peer = (domid_t)test_option_num("peer", 2), self = (domid_t)test_option_num("self", 1);
	unsigned max = (unsigned)MIN(test_option_num("max", EMUNIC_FRAME_MAX), EMUNIC_FRAME_MAX);
	if (!check(time_init() == 0, "shared info mapped"))
		return;
	txbuf = alloc_page(), rxbuf = alloc_page(), want = alloc_page();
	u32 sent = 0, got = 0, drops = 0;
	bool pending = false;	/* the device holds frame `sent`, refused once */
	long own0 = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0);
	long all0 = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_total, 0);
	u64 stall = get_system_time() + STALL_NS;
	while (sent < tx || got < rx) {
		bool moved = false;
		if (sent < tx) {
			unsigned len = frame_len(sent, max);
			frame_fill(txbuf, self, sent, len);
			long r = pending ? emunic_resend(peer) : emunic_send(peer, txbuf, len);
			pending = r == -XEN_EAGAIN;
			drops += pending;
			if (r != 0 && !pending) {	/* one line per failure, none per frame */
				check(false, "send of frame %u: %ld", sent, r);
				return;
			}
			sent += r == 0, moved |= r == 0;
		}
		if (got < rx) {
			domid_t src = 0xffff;
			long n = emunic_recv(rxbuf, EMUNIC_FRAME_MAX, &src);
			if (n) {
				const char *d = frame_diff(rxbuf, n, peer, got, max, want);
				if (*d || src != peer) {
					check(false, "frame %u from d%u: %s differs (length %ld)", got,
					      src, *d ? d : "sender", n);
					return;
				}
				got++, moved = true;
			}
		}
		if (moved) {
			stall = get_system_time() + STALL_NS;
		} else if (get_system_time() > stall) {
			check(false, "progress (sent %u of %u, got %u of %u)", sent, tx, got, rx);
			return;
		} else {
			yield();
		}
	}
	long own = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0) - own0;
	long all = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_total, 0) - all0;
	/* Each frame we got but the first EMUNIC_RX_SLOTS (perhaps queued before we began)
	 * cost the sender at least TX_LEN, TX_DATA and TX_SEND exits while we watched. */
	if (rx > EMUNIC_RX_SLOTS)
		check(all - own >= 3 * (long)(rx - EMUNIC_RX_SLOTS),
		      "PVLAB_DEBUG_exit_total counts the sender's exits too (%ld beside our %ld)",
		      all - own, own);
	check_eq(emunic_reg(EMUNIC_TX_DROPS), drops, "the device counted each refused send as a drop");
	printf("sent %u frames (%u refused: queue full, resent), received %u intact\n", sent, drops, got);
	if (rx && !tx && check(wait_state(peer, 2), "the sender finished"))
		check_eq(emunic_reg(EMUNIC_RX_COUNT), 0, "no frame beyond the stream's");
}

/* Register and data-port misuse, on our own queue (self=D) and towards a peer that does
 * not read (peer=D, running emunic-sink): errors in STATUS or #GP, never more. */
static void bad_accesses(void)
{
	u16 b = EMUNIC_PORT_BASE;
	u32 buf[4] = { 0 };
	check_eq(IO_FAULT("outb %%al, %%dx", "a"(1), "d"(b + EMUNIC_TX_LEN)), EXC_GP, "a byte OUT #GPs");
	check_eq(IO_FAULT("outw %%ax, %%dx", "a"(1), "d"(b + EMUNIC_TX_LEN)), EXC_GP, "a word OUT #GPs");
	check_eq(IO_FAULT("inb %%dx, %%al", "d"(b + EMUNIC_STATUS)), EXC_GP, "a byte IN #GPs");
	check_eq(IO_FAULT("inw %%dx, %%ax", "d"(b + EMUNIC_RX_LEN)), EXC_GP, "a word IN #GPs");
	check_eq(IO_FAULT("outl %%eax, %%dx", "a"(1), "d"(b + 1)), EXC_GP, "a misaligned port #GPs");
	check_eq(IO_FAULT("inl %%dx, %%eax", "d"(b + EMUNIC_PORTS)), EXC_GP, "the port past the window #GPs");
	check_eq(IO_FAULT("inl %%dx, %%eax", "d"(b + EMUNIC_TX_LEN)), EXC_GP, "IN from a write-only register #GPs");
	check_eq(IO_FAULT("outl %%eax, %%dx", "a"(0), "d"(b + EMUNIC_RX_LEN)), EXC_GP, "OUT to a read-only register #GPs");
	check_eq(IO_FAULT("outl %%eax, %%dx", "a"(0), "d"(b + EMUNIC_STATUS)), EXC_GP, "OUT to STATUS #GPs");
	check_eq(IO_FAULT("rep outsl", "S"(buf), "c"(4UL), "d"(b + EMUNIC_TX_DATA)), EXC_GP, "REP OUTSL #GPs");
	check_eq(IO_FAULT("outsl", "S"(buf), "d"(b + EMUNIC_TX_DATA)), EXC_GP, "OUTSL #GPs");
	check_eq(IO_FAULT("rep insl", "D"(buf), "c"(4UL), "d"(b + EMUNIC_RX_DATA)), EXC_GP, "REP INSL #GPs");
	check_eq(buf[0] | buf[1] | buf[2] | buf[3], 0, "a refused INSL wrote nothing");
	emunic_reg(EMUNIC_STATUS);	/* clear what the refused accesses must not have set */
	check_eq(emunic_reg(EMUNIC_STATUS), 0, "refused accesses changed no status");
}

static void bad_lengths(domid_t self)
{
	static const u32 bad[] = { 0, EMUNIC_FRAME_MAX + 1, 0x10000, 0xffffffff };
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		out(EMUNIC_TX_LEN, bad[i]);
		check_eq(emunic_reg(EMUNIC_STATUS), EMUNIC_ST_TX_BADLEN, "TX_LEN out of range: BADLEN");
		out(EMUNIC_TX_DATA, 1);
		check_eq(emunic_reg(EMUNIC_STATUS), EMUNIC_ST_TX_OVERRUN, "... then TX_DATA: OVERRUN");
		check_eq(emunic_resend(self), -XEN_EINVAL, "... and no frame to send");
	}
	out(EMUNIC_TX_LEN, 100);
	out(EMUNIC_TX_DATA, 1);
	check_eq(emunic_resend(self), -XEN_EINVAL, "a frame not fully written is not sent");
	check_eq(emunic_reg(EMUNIC_RX_COUNT), 0, "... nothing was queued");
	check_eq(emunic_send(self, "x", 1), 0, "TX_LEN discards the half-written frame");
	check_eq(emunic_reg(EMUNIC_RX_LEN), 1, "... and the new one arrives alone");
	out(EMUNIC_RX_POP, 0);
}

/* A 9-byte frame to ourselves written with an extra word: the extra is ignored, the tail
 * bytes read 0 (though every slot last held a longer frame of 0xee), reads past the end
 * read 0 with UNDERRUN. */
static void overlong(domid_t self)
{
	u8 old[12];
	memset(old, 0xee, sizeof(old));
	for (int i = 0; i < EMUNIC_RX_SLOTS; i++) {
		emunic_send(self, old, sizeof(old));
		emunic_recv(old, sizeof(old), NULL);
	}
	out(EMUNIC_TX_LEN, 9);
	out(EMUNIC_TX_DATA, 0x04030201);
	out(EMUNIC_TX_DATA, 0x08070605);
	out(EMUNIC_TX_DATA, 0xaaaaaa09);
	out(EMUNIC_TX_DATA, 0xbbbbbbbb);
	check_eq(emunic_reg(EMUNIC_STATUS), EMUNIC_ST_TX_OVERRUN, "data past the length: OVERRUN");
	check_eq(emunic_resend(self), 0, "send to ourselves");
	check_eq(emunic_reg(EMUNIC_RX_SRC), self, "the frame says who sent it");
	check_eq(emunic_reg(EMUNIC_RX_LEN), 9, "RX_LEN is the announced length");
	check_eq(emunic_reg(EMUNIC_RX_DATA), 0x04030201, "word 0");
	check_eq(emunic_reg(EMUNIC_RX_DATA), 0x08070605, "word 1");
	check_eq(emunic_reg(EMUNIC_RX_DATA), 0x09, "word 2: the bytes past the length read 0");
	check_eq(emunic_reg(EMUNIC_STATUS), EMUNIC_ST_RX_READY, "no error so far");
	check_eq(emunic_reg(EMUNIC_RX_DATA), 0, "a read past the frame reads 0 ...");
	check_eq(emunic_reg(EMUNIC_STATUS), EMUNIC_ST_RX_READY | EMUNIC_ST_RX_UNDERRUN, "... and UNDERRUN");
	out(EMUNIC_RX_POP, 0);
	check_eq(emunic_reg(EMUNIC_RX_LEN), 0, "popped: empty");
	check_eq(emunic_reg(EMUNIC_RX_DATA), 0, "RX_DATA on an empty queue reads 0");
	out(EMUNIC_RX_POP, 0);
	check_eq(emunic_reg(EMUNIC_STATUS), EMUNIC_ST_RX_UNDERRUN, "... and it and RX_POP: UNDERRUN");
	check_eq(emunic_reg(EMUNIC_RX_SRC), 0xffff, "RX_SRC of an empty queue");
}

/* domids no running domain has (3 domains run: d0-d2), some equal to a live one's in their
 * low 16 bits; DOMID_SELF is not special to the device. */
static void bad_domains(void)
{
	static const u32 bad[] = { 3, 7, 8, DOMID_SELF, 0xffff, 0x10001, 0x10002, 0xffffffff };
	out(EMUNIC_TX_LEN, 4);
	out(EMUNIC_TX_DATA, 0x64636261);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		out(EMUNIC_TX_SEND, bad[i]);
		check(emunic_reg(EMUNIC_STATUS) == EMUNIC_ST_TX_NODOM, "a send to 0x%x: NODOM", bad[i]);
	}
	check_eq(emunic_reg(EMUNIC_RX_COUNT), 0, "nothing reached us");
}

/* Fill the peer's queue (it does not read yet): exactly EMUNIC_RX_SLOTS frames go, then
 * every send is refused and counted, and nothing of it shows in our own queue. */
static void flood(domid_t peer)
{
	u32 v[2];
	unsigned ok = 0;
	for (u32 seq = 0; seq < EMUNIC_RX_SLOTS + 1; seq++) {
		v[0] = seq, v[1] = ~seq;
		long r = emunic_send(peer, v, sizeof(v));
		ok += r == 0;
		if (seq == EMUNIC_RX_SLOTS)
			check_eq(r, -XEN_EAGAIN, "a send to a full queue: refused (queue full)");
	}
	check_eq(ok, EMUNIC_RX_SLOTS, "the receiver's queue took EMUNIC_RX_SLOTS frames");
	unsigned again = 0;
	for (int i = 0; i < 200; i++)
		again += emunic_resend(peer) == -XEN_EAGAIN;
	check_eq(again, 200, "resending keeps being refused: the hypervisor holds no more");
	check_eq(emunic_reg(EMUNIC_TX_DROPS), 201, "each refusal counted in TX_DROPS");
	check_eq(emunic_reg(EMUNIC_RX_COUNT), 0, "our own queue saw none of it");
}

/* Options self=D peer=D (the peer runs emunic-sink). */
TEST(test_emunic_hostile, "emunic-hostile", "a driver misusing the emulated NIC gets errors or #GP")
{
	domid_t self = (domid_t)test_option_num("self", 1), peer = (domid_t)test_option_num("peer", 2);
	check_eq(emunic_reg(EMUNIC_STATUS), 0, "a fresh device: nothing queued, no error");
	bad_accesses();
	bad_lengths(self);
	overlong(self);
	bad_domains();
	flood(peer);
	/* Die with a frame half written: it must never be sent. */
	out(EMUNIC_TX_LEN, EMUNIC_FRAME_MAX);
	for (int i = 0; i < 100; i++)
		out(EMUNIC_TX_DATA, 0xdeadbeef);
}

/* The flood's receiver (options peer=D n=N): reads nothing until the peer is dead, then
 * finds exactly its N frames, in order, and nothing else. */
TEST(test_emunic_sink, "emunic-sink", "the flooded receiver reads exactly the queued frames")
{
	domid_t peer = (domid_t)test_option_num("peer", 1);
	u32 n = (u32)test_option_num("n", EMUNIC_RX_SLOTS);
	if (!check(time_init() == 0, "shared info mapped") || !check(wait_state(peer, 3), "the flooder died"))
		return;
	check_eq(emunic_reg(EMUNIC_RX_COUNT), n, "frames queued");
	for (u32 seq = 0; seq < n; seq++) {
		u32 v[2] = { 0, 0 };
		domid_t src = 0;
		long len = emunic_recv(v, sizeof(v), &src);
		if (!check(len == 8 && src == peer && v[0] == seq && v[1] == ~seq,
			   "frame %u: length %ld from d%u: %x %x", seq, len, src, v[0], v[1]))
			return;
	}
	check_eq(emunic_reg(EMUNIC_RX_LEN), 0, "no frame beyond the queued ones (none half written)");
	check_eq(emunic_send(peer, "ping", 4), -XEN_ESRCH, "a send to the dead domain: no such domain");
}

/* The receiver that dies (options peer=D n=N): waits for N frames, leaves them queued,
 * starts a frame of its own and crashes. */
TEST(test_emunic_die, "emunic-die", "crash with frames queued and one half written")
{
	if (!check(time_init() == 0, "shared info mapped"))
		return;
	u32 n = (u32)test_option_num("n", EMUNIC_RX_SLOTS);
	u64 end = get_system_time() + STALL_NS;
	while (emunic_reg(EMUNIC_RX_COUNT) < n)
		if (!check(get_system_time() < end, "%u frames arrive", n))
			return;
		else
			yield();
	out(EMUNIC_TX_LEN, 64);
	out(EMUNIC_TX_DATA, 0xdeadbeef);
	struct desc_ptr none = { 0, 0 };
	printf("%u frames queued, a frame half written: crashing now\n", n);
	lidt(&none);
	__asm__ volatile("ud2");
	check(false, "still running after a triple fault");
}

/* The survivor (options peer=D self=D): fills the dying domain's queue, waits for its
 * teardown, and then finds the device still working and no trace of the dead. */
TEST(test_emunic_survive, "emunic-survive", "a peer's crash leaves the emulated NIC clean")
{
	domid_t peer = (domid_t)test_option_num("peer", 1), self = (domid_t)test_option_num("self", 2);
	if (!check(time_init() == 0, "shared info mapped"))
		return;
	u32 v = 0x5eed;
	unsigned ok = 0;
	for (int i = 0; i < EMUNIC_RX_SLOTS + 4; i++)
		ok += emunic_send(peer, &v, sizeof(v)) == 0;
	check_eq(ok, EMUNIC_RX_SLOTS, "the victim's queue filled");
	if (!check(wait_state(peer, 3), "the victim's teardown ended"))
		return;
	check_eq(emunic_send(peer, &v, sizeof(v)), -XEN_ESRCH, "a send to the dead domain: no such domain");
	check_eq(emunic_reg(EMUNIC_RX_COUNT), 0, "its half-written frame never came");
	check_eq(emunic_send(self, &v, sizeof(v)), 0, "our device still works");
	u32 w = 0;
	check_eq(emunic_recv(&w, sizeof(w), NULL), 4, "... a frame to ourselves comes back");
	check_eq(w, 0x5eed, "... intact");
}
