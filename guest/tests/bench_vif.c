/*
 * Lab 6 benchmark, run by `make bench` (tools/bench.py): the PV network device end to end,
 * d1's netfront -> dom0's netback (two grant copies) -> d2's netfront, for comparison with
 * the emulated NIC (bench_emunic.c).  dom0 runs "vif-backend vifs=1,2 tag=T"; d1 runs
 * "bench-vif-send peer=2 size=S"; d2 "bench-vif-recv peer=1 tag=T".  always=1 (all three)
 * turns notification suppression off.  The receiver prints, for tag T:
 *   BENCH vif-T-cycles <TSC cycles per frame>     from its first frame to its last
 *   BENCH vif-T-exits100 <100 x VM exits per frame, every domain's>
 * and each domain prints BENCH vif-T-events-dN <events it sent>.  Nothing here asserts a
 * speed.
 */
#include "guest/test.h"
#include "guest/net.h"

#define MS 1000000ULL

static struct netfront nf;
static u8 buf[NETIF_MAX_FRAME] __attribute__((aligned(16)));

static u32 frames_for(u32 size)
{
	return size > 1024 ? 1000 : 4000;
}

static bool bench_boot(void)
{
	netfront_notify_always = test_option_num("always", 0) != 0;
	return time_init() == 0 && gnttab_init() == 0 && xenbus_init() == 0 &&
	       netfront_connect(&nf, 0) == 0;
}

static u64 exits_total(void)
{
	return (u64)HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_total, 0);
}

TEST(bench_vif_send, "bench-vif-send", "PV network: send frames to a peer through dom0")
{
	domid_t peer = (domid_t)test_option_num("peer", 2);
	u32 size = (u32)test_option_num("size", 64), n = frames_for(size);
	if (!check(bench_boot(), "connect the vif") ||
	    !check_eq(netfront_wait_peer(&nf, peer, 10000 * MS), 0, "the peer's vif is connected"))
		return;
	u32 sent = 0;
	u64 quiet = get_system_time() + 5000 * MS;
	while (sent < n && get_system_time() < quiet) {
		bool any = false;
		while (sent < n) {
			pvnet_build(buf, peer, 0, sent, size);
			if (netfront_queue(&nf, buf, size) < 0)
				break;
			sent++, any = true;
		}
		netfront_push(&nf);
		if (any)
			quiet = get_system_time() + 5000 * MS;
		else
			netfront_wait(&nf, 100 * MS), netfront_reap(&nf);
	}
	while (nf.tx_done < nf.tx_frames && get_system_time() < quiet)
		netfront_wait(&nf, 100 * MS), netfront_reap(&nf);
	check_eq(sent, n, "frames sent");
	printf("BENCH vif-%s-events-d%s %lu\n", test_option("tag") ?: "?", "1", nf.events_sent);
	netfront_close(&nf);
}

TEST(bench_vif_recv, "bench-vif-recv", "PV network: receive frames from a peer through dom0")
{
	char tag[16];
	u32 size = (u32)test_option_num("size", 64), n = frames_for(size), got = 0, bad = 0;
	strlcpy(tag, test_option("tag") ?: "?", sizeof(tag));
	if (!check(bench_boot(), "connect the vif"))
		return;
	u64 t0 = 0, x0 = 0, quiet = get_system_time() + 10000 * MS;
	while (got < n && get_system_time() < quiet) {
		long r = netfront_recv(&nf, buf, sizeof(buf));
		if (r == 0) {
			netfront_wait(&nf, 100 * MS);
			continue;
		}
		const struct pvnet_hdr *h = (const struct pvnet_hdr *)buf;
		if (r > 0 && h->seq == PVNET_PROBE_SEQ)
			continue;
		if (got == 0)
			t0 = rdtsc(), x0 = exits_total();
		bad += r < 0 || !pvnet_intact(buf, (u32)r) || h->seq != got;
		got++;
		quiet = get_system_time() + 5000 * MS;
	}
	u64 t1 = rdtsc(), x1 = exits_total();
	check_eq(got, n, "frames received");
	check_eq(bad, 0, "frames lost, reordered or corrupted");
	if (got == n && n > 1) {
		printf("BENCH vif-%s-cycles %lu\n", tag, (t1 - t0) / (n - 1));
		printf("BENCH vif-%s-exits100 %lu\n", tag, (x1 - x0) * 100 / (n - 1));
	}
	printf("BENCH vif-%s-events-d2 %lu\n", tag, nf.events_sent);
	netfront_close(&nf);
}
