/*
 * Hostile domUs against dom0's given network and store code (system tests, tests/system/vif.json):
 * each runs beside vif-witness, an honest domU that loops frames through dom0 and must finish
 * while the attack is still going on (its 5 s without progress would fail it).
 */
#include "guest/test.h"
#include "guest/net.h"
#include "public/io/xs_wire.h"

#define MS 1000000ULL

static struct netfront nf;
static u8 frame[256] __attribute__((aligned(16)));

/* Append an XS_WRITE of payload (path NUL value) to our store ring, bypassing xenbus. */
static void raw_store_write(volatile struct xenstore_domain_interface *s, const char *payload, u32 len)
{
	struct xsd_sockmsg h = { .type = XS_WRITE, .req_id = 7, .len = len };
	XENSTORE_RING_IDX p = s->req_prod;
	for (u32 i = 0; i < sizeof(h) + len; i++)
		s->req[MASK_XENSTORE_IDX(p + i)] = i < sizeof(h) ? ((const char *)&h)[i] : payload[i - sizeof(h)];
	barrier();
	s->req_prod = p + sizeof(h) + len;
}

/* Rewrite our own device state as fast as the store serves it, for 4 s, never reading a
 * reply: every write fires dom0's watch, so dom0's queue of fired watches overflows.  The
 * witness's Initialised, fired in the same flood, must still reach netback. */
TEST(test_vif_watch_flood, "vif-watch-flood", "flood dom0's watch queue with our own state writes")
{
	volatile struct xenstore_domain_interface *s = mfn_to_virt(start_info->store_mfn);
	static const char msg[] = "device/vif/0/state\0" "1";
	if (!check_eq(time_init(), 0, "map shared info"))
		return;
	u64 end = get_system_time() + 4000 * MS, sent = 0;
	while (get_system_time() < end) {
		s->rsp_cons = s->rsp_prod;
		while (s->req_prod - s->req_cons + sizeof(struct xsd_sockmsg) + sizeof(msg) - 1 <= XENSTORE_RING_SIZE)
			raw_store_write(s, msg, sizeof(msg) - 1), sent++;
		evtchn_notify(start_info->store_evtchn);
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	check(sent > 1000, "state writes sent to the store (%lu)", sent);
}

/* Send frames to ourselves for 10 s and never take one: every frame waits in dom0 for an rx
 * buffer we do not post.  Our share of dom0's bounce pages is bounded; the witness's is not
 * touched. */
TEST(test_vif_bounce_hog, "vif-bounce-hog", "hold dom0's bounce pages with frames we never take")
{
	char buf[16];
	u64 me = 0, queued = 0;
	if (!check_eq(time_init(), 0, "map shared info") || !check_eq(gnttab_init(), 0, "grant table") ||
	    !check_eq(xenbus_init(), 0, "store") || !check_eq(netfront_connect(&nf, 0), 0, "connect"))
		return;
	if (xenbus_read("domid", buf, sizeof(buf)) > 0)
		parse_size(buf, &me);
	for (u64 end = get_system_time() + 10000 * MS; get_system_time() < end;) {
		pvnet_build(frame, (domid_t)me, 0, (u32)queued, 64);
		if (netfront_queue(&nf, frame, 64) == 0)
			queued++, netfront_push(&nf);
		else
			HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	check(queued > NETFRONT_BUFS, "frames queued to ourselves and never taken (%lu)", queued);
}
