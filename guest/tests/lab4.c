/* Lab 4: event channels -- between domains, masked, batched, polled, closed, and abused. */
#include "guest/test.h"

#define MS 1000000ULL
#define PINGS 200

static volatile u64 count_a, count_b;

static void on_a(unsigned port UNUSED)
{
	count_a++;
}

static void on_b(unsigned port UNUSED)
{
	count_b++;
}

static bool is_dom0(void)
{
	return start_info->flags & SIF_INITDOMAIN;
}

static bool setup(void)
{
	return check_eq(time_init(), 0, "map shared info and register the callback vector");
}

/* Sleep (blocked) until *c >= want or timeout_ns passed; whether *c got there. */
static bool wait_count(volatile u64 *c, u64 want, u64 timeout_ns)
{
	u64 deadline = get_system_time() + timeout_ns;
	HYPERVISOR_set_timer_op(deadline);
	cli();
	while (*c < want && get_system_time() < deadline) {
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
		irq_window();	/* sti; nop; cli: the upcall runs here (sti; cli would hide it) */
	}
	sti();
	HYPERVISOR_set_timer_op(0);
	return *c >= want;
}

/* Bind the port that domain dom allocated for us: its number is unknown, so try the first
 * few (only the one meant for us binds), yielding while the peer has not allocated it. */
static long bind_peer(domid_t dom, evtchn_handler_t h)
{
	for (int round = 0; round < 2000; round++) {
		for (unsigned p = 1; p < 16; p++) {
			if (is_store_port(dom, p))
				continue;
			long r = evtchn_bind_interdomain(dom, p, h);
			if (r > 0 || (r != -XEN_EINVAL && r != -XEN_ESRCH))
				return r;
		}
		HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
	}
	return -XEN_EINVAL;
}

static long status_of(domid_t dom, unsigned port, struct evtchn_status *st)
{
	*st = (struct evtchn_status){ .dom = dom, .port = port };
	return HYPERVISOR_event_channel_op(EVTCHNOP_status, st);
}

/* A loopback channel: *a allocated (handler ha), *b bound to it (handler hb). */
static bool loopback(long *a, long *b, evtchn_handler_t ha, evtchn_handler_t hb)
{
	*a = evtchn_alloc_unbound(DOMID_SELF, ha);
	*b = *a > 0 ? evtchn_bind_interdomain(DOMID_SELF, (unsigned)*a, hb) : *a;
	return *a > 0 && *b > 0;
}

static bool is_pending(unsigned port)
{
	return READ_ONCE(shared_info->evtchn_pending[port / 64]) & (1ULL << (port % 64));
}

/* dom0 (role=alloc) allocates a port for its peer and answers each ping; the domU
 * (role=bind) binds it and pings PINGS times.  Each side counts. */
TEST(test_pingpong, "evtchn-pingpong", "N round trips between two domains")
{
	if (!setup())
		return;
	const char *role = test_option("role");
	bool alloc = role ? !strcmp(role, "alloc") : is_dom0();
	domid_t peer = (domid_t)test_option_num("peer", alloc ? 1 : 0);
	if (alloc) {
		long p = evtchn_alloc_unbound(peer, on_a);
		if (!check(p > 0, "allocate an unbound port for d%u (%ld)", peer, p))
			return;
		int i;
		for (i = 1; i <= PINGS && wait_count(&count_a, i, 2000 * MS); i++)
			if (evtchn_notify((unsigned)p) != 0)
				break;
		check_eq((long)count_a, PINGS, "pings received and answered");
		wait_count(&count_a, PINGS + 1, 50 * MS);
		check_eq((long)count_a, PINGS, "... and not one more");
	} else {
		long q = bind_peer(peer, on_b);
		if (!check(q > 0, "bind the port d%u allocated for me (%ld)", peer, q))
			return;
		check(wait_count(&count_b, 1, 1000 * MS), "the bound port starts out pending");
		int i;
		for (i = 1; i <= PINGS; i++) {
			if (evtchn_notify((unsigned)q) != 0 || !wait_count(&count_b, i + 1, 2000 * MS))
				break;
		}
		check_eq(i - 1, PINGS, "round trips");
		check_eq((long)count_b, PINGS + 1, "pongs received (and the bind's own event)");
	}
}

/* dom0 signals on its port before the domU has bound it; the domU must still see it. */
TEST(test_early, "evtchn-early", "a signal sent before the peer binds is delivered")
{
	if (!setup())
		return;
	struct evtchn_status st;
	if (is_dom0()) {
		long p = evtchn_alloc_unbound(1, NULL);
		if (!check(p > 0, "allocate an unbound port for d1 (%ld)", p))
			return;
		check_eq(evtchn_notify((unsigned)p), 0, "signal it before anyone listens: no error");
		check(status_of(DOMID_SELF, (unsigned)p, &st) == 0 && st.status == EVTCHNSTAT_unbound &&
		      st.u.unbound.dom == 1, "status: unbound, waiting for d1");
		for (int i = 0; i < 5000 && status_of(DOMID_SELF, (unsigned)p, &st) == 0 &&
				st.status == EVTCHNSTAT_unbound; i++)
			sleep_ns(1 * MS);
		check(st.status == EVTCHNSTAT_interdomain && st.u.interdomain.dom == 1,
		      "status: connected to d1 once it bound");
		check_eq(evtchn_notify((unsigned)p), 0, "signal it now");
	} else {
		sleep_ns(30 * MS);	/* let dom0 allocate and signal first */
		long q = bind_peer(0, on_b);
		if (!check(q > 0, "bind dom0's port (%ld)", q))
			return;
		check(wait_count(&count_b, 1, 1000 * MS), "the event sent before the bind is delivered");
		check(status_of(DOMID_SELF, (unsigned)q, &st) == 0 && st.status == EVTCHNSTAT_interdomain &&
		      st.u.interdomain.dom == 0, "status: connected to d0");
		check(wait_count(&count_b, 2, 3000 * MS), "and the event sent after the bind");
	}
}

TEST(test_mask, "evtchn-mask", "a masked port stays pending; the unmask delivers it")
{
	long a = 0, b = 0;
	if (!setup())
		return;
	bool ok = loopback(&a, &b, on_a, on_b);
	if (!check(ok, "a loopback channel (%ld <-> %ld)", a, b))
		return;
	wait_count(&count_b, 1, 100 * MS);	/* the bind's own event on b */
	evtchn_mask((unsigned)a);
	check_eq(evtchn_notify((unsigned)b), 0, "signal the masked end");
	spin_tsc(20000000);
	check_eq((long)count_a, 0, "... no upcall for a masked port");
	check(is_pending((unsigned)a), "... but it is pending");
	check_eq(evtchn_unmask((unsigned)a), 0, "unmask it");
	spin_tsc(20000000);	/* no timer armed: only the unmask itself can raise the upcall */
	check_eq((long)count_a, 1, "... and the event is delivered, at once");
	check(!is_pending((unsigned)a), "... once");
	u64 before = count_b;
	check_eq(evtchn_notify((unsigned)a), 0, "signal the other way");
	check(wait_count(&count_b, before + 1, 1000 * MS), "... delivered at once (unmasked)");
	evtchn_mask((unsigned)a);
	evtchn_notify((unsigned)b);
	check(evtchn_unbind((unsigned)a) == 0 && evtchn_unbind((unsigned)b) == 0,
	      "close both ends, one masked and pending");
	long c = evtchn_alloc_unbound(DOMID_SELF, NULL);
	check(c == a && !is_pending((unsigned)c), "the port number comes back without the stale event");
}

#define BURST 100

TEST(test_batch, "evtchn-batch", "a burst of events on many ports costs one upcall")
{
	static long a[BURST], b[BURST];
	if (!setup())
		return;
	int ok = 0;
	for (int i = 0; i < BURST; i++)
		ok += loopback(&a[i], &b[i], on_a, NULL);
	if (!check_eq(ok, BURST, "loopback channels"))
		return;
	spin_tsc(10000000);	/* let the binds' own events pass (b has no handler) */
	cli();
	for (int i = 0; i < BURST; i++)
		evtchn_notify((unsigned)b[i]);
	u64 before = upcalls;
	sti();
	wait_count(&count_a, BURST, 1000 * MS);
	check_eq((long)count_a, BURST, "every port's handler ran once");
	check_eq((long)(upcalls - before), 1, "... in one upcall");
	check(a[BURST - 1] / 64 > a[0] / 64, "... across %ld words of the bitmap", a[BURST - 1] / 64 - a[0] / 64 + 1);
	int closed = 0;
	for (int i = 0; i < BURST; i++)
		closed += evtchn_unbind((unsigned)a[i]) == 0 && evtchn_unbind((unsigned)b[i]) == 0;
	check_eq(closed, BURST, "and every channel closes");
}

TEST(test_virq, "evtchn-virq", "VIRQ_TIMER through EVTCHNOP_bind_virq")
{
	struct evtchn_status st;
	if (!setup())
		return;
	check_eq(evtchn_unbind(PVLAB_TIMER_PORT), 0, "close the builder's VIRQ_TIMER port");
	check(status_of(DOMID_SELF, PVLAB_TIMER_PORT, &st) == 0 && st.status == EVTCHNSTAT_closed,
	      "... it is closed");
	long p = evtchn_bind_virq(VIRQ_TIMER, on_a);
	if (!check(p > 0, "bind VIRQ_TIMER (port %ld)", p))
		return;
	check_eq(evtchn_bind_virq(VIRQ_TIMER, NULL), -XEN_EEXIST, "a second binding: -EEXIST");
	check(status_of(DOMID_SELF, (unsigned)p, &st) == 0 && st.status == EVTCHNSTAT_virq &&
	      st.u.virq == VIRQ_TIMER, "status: virq VIRQ_TIMER");
	check_eq(HYPERVISOR_set_timer_op(get_system_time() - 1), 0, "a timer in the past");
	check(wait_count(&count_a, 1, 1000 * MS), "... arrives on the new port");
	check_eq(evtchn_unbind((unsigned)p), 0, "close it");
	check_eq(HYPERVISOR_set_timer_op(get_system_time() - 1), 0, "a timer with VIRQ_TIMER unbound");
	spin_tsc(20000000);
	check_eq((long)count_a, 1, "... arrives nowhere");
	check(p > 0 && !is_pending((unsigned)p), "... not even on the closed port");
}

TEST(test_poll, "evtchn-poll", "SCHEDOP_poll: timeout, already pending, woken by a masked port")
{
	long a = 0, b = 0;
	if (!setup())
		return;
	bool ok = loopback(&a, &b, NULL, NULL);
	if (!check(ok, "a loopback channel (%ld <-> %ld)", a, b))
		return;
	evtchn_mask((unsigned)a);
	while (wait_for_event((unsigned)b, 1 * MS) == 0)
		;	/* the bind's own event */
	long exits = HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0);
	u64 t0 = get_system_time();
	check_eq(wait_for_event((unsigned)a, 30 * MS), -XEN_ETIMEDOUT, "wait 30 ms for a silent port");
	u64 took = get_system_time() - t0;
	check(took >= 30 * MS && took < 2000 * MS, "... took %lu us", took / 1000);
	check(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_exit_count, 0) - exits < 200, "... blocked, not spun");
	check_eq(evtchn_notify((unsigned)b), 0, "signal it");
	evtchn_port_t pa = (evtchn_port_t)a;
	struct sched_poll sp = { .ports = &pa, .nr_ports = 1, .timeout = get_system_time() + 1000 * MS };
	t0 = get_system_time();
	check_eq(HYPERVISOR_sched_op(SCHEDOP_poll, &sp), 0, "SCHEDOP_poll on a pending port");
	check(get_system_time() - t0 < 20 * MS, "... returns at once");
	t0 = get_system_time();
	check_eq(wait_for_event((unsigned)a, 1000 * MS), 0, "wait for a port already pending");
	check(get_system_time() - t0 < 20 * MS, "... returns at once");
	evtchn_mask(PVLAB_TIMER_PORT);
	t0 = get_system_time();
	HYPERVISOR_set_timer_op(t0 + 20 * MS);
	check_eq(wait_for_event(PVLAB_TIMER_PORT, 3000 * MS), 0, "wait for the masked timer port");
	took = get_system_time() - t0;
	check(took >= 20 * MS && took < 1500 * MS, "... woken by its event after %lu us", took / 1000);
	evtchn_unmask(PVLAB_TIMER_PORT);
}

/* dom0 closes its end while the domU keeps signalling; the domU sees its end unbound. */
TEST(test_close, "evtchn-close", "closing a channel while the peer signals")
{
	struct evtchn_status st;
	if (!setup())
		return;
	if (is_dom0()) {
		long p = evtchn_alloc_unbound(1, on_a);
		if (!check(p > 0, "allocate an unbound port for d1 (%ld)", p))
			return;
		check(wait_count(&count_a, 20, 3000 * MS), "the peer signals");
		check_eq(evtchn_unbind((unsigned)p), 0, "close my end while it does");
		check(status_of(DOMID_SELF, (unsigned)p, &st) == 0 && st.status == EVTCHNSTAT_closed,
		      "... it is closed");
		check_eq(evtchn_notify((unsigned)p), -XEN_EINVAL, "sending on it: -EINVAL");
		sleep_ns(50 * MS);
		check(true, "still running after the peer went on signalling");
	} else {
		long q = bind_peer(0, NULL);
		if (!check(q > 0, "bind dom0's port (%ld)", q))
			return;
		int sends = 0, bad = 0;
		while (sends < 100000 && status_of(DOMID_SELF, (unsigned)q, &st) == 0 &&
		       st.status == EVTCHNSTAT_interdomain) {
			bad += evtchn_notify((unsigned)q) != 0;
			sends++;
			if (sends % 8 == 0)
				HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
		}
		check_eq(bad, 0, "every send on the live channel succeeded");
		check(st.status == EVTCHNSTAT_unbound && st.u.unbound.dom == 0,
		      "after %d sends my end went back to unbound, waiting for d0", sends);
		check_eq(evtchn_notify((unsigned)q), 0, "sending on it now goes nowhere, no error");
	}
}

/* The partner of evtchn-hostile: a port meant for itself, then one for the peer. */
TEST(test_hostile_peer, "evtchn-hostile-peer", "dom0's side of the hostile test")
{
	struct evtchn_status st;
	if (!setup())
		return;
	domid_t peer = (domid_t)test_option_num("peer", 1);
	long mine = evtchn_alloc_unbound(DOMID_SELF, NULL);
	long theirs = evtchn_alloc_unbound(peer, NULL);
	if (!check(mine > 0 && theirs > 0, "ports for myself (%ld) and for d%u (%ld)", mine, peer, theirs))
		return;
	for (int i = 0; i < 5000 && status_of(DOMID_SELF, (unsigned)theirs, &st) == 0 &&
			st.status == EVTCHNSTAT_unbound; i++)
		sleep_ns(1 * MS);
	check(st.status == EVTCHNSTAT_interdomain, "d%u bound its port", peer);
	sleep_ns(300 * MS);	/* while it tries everything else */
	check(status_of(DOMID_SELF, (unsigned)mine, &st) == 0 && st.status == EVTCHNSTAT_unbound &&
	      st.u.unbound.dom == 0, "my own port is untouched");
}

static long evtchn_op_raw(int cmd, u32 port)
{
	struct evtchn_send s = { .port = port };	/* close, send, unmask: just a port */
	return HYPERVISOR_event_channel_op(cmd, &s);
}

static long poll_raw(evtchn_port_t *ports, unsigned n)
{
	struct sched_poll p = { .ports = ports, .nr_ports = n, .timeout = get_system_time() + MS };
	return HYPERVISOR_sched_op(SCHEDOP_poll, &p);
}

TEST(test_hostile, "evtchn-hostile", "bad ports, foreign ports, a full table: errors only")
{
	struct evtchn_status st;
	if (!setup())
		return;
	long q = bind_peer(0, NULL);
	if (!check(q > 0, "bind the port dom0 allocated for me (%ld)", q))
		return;
	/* dom0 allocated its own port first: the lowest one that we could not bind. */
	long r = -XEN_EINVAL;
	for (unsigned p = 2; p < 16 && r == -XEN_EINVAL; p++) {
		struct evtchn_bind_interdomain b = { .remote_dom = 0, .remote_port = p };
		r = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b);
	}
	check_eq(r, -XEN_EINVAL, "binding dom0's port not meant for me: -EINVAL");
	static const u32 bad_ports[] = { 0, EVTCHN_MAX_PORTS, EVTCHN_MAX_PORTS - 1, 0xffffffff, 0x80000000 };
	for (unsigned i = 0; i < ARRAY_SIZE(bad_ports); i++) {
		u32 p = bad_ports[i];
		struct evtchn_bind_interdomain b = { .remote_dom = 0, .remote_port = p };
		long e[4] = { HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b),
			      evtchn_op_raw(EVTCHNOP_send, p), evtchn_op_raw(EVTCHNOP_close, p),
			      evtchn_op_raw(EVTCHNOP_unmask, p) };
		check(e[0] == -XEN_EINVAL && e[1] == -XEN_EINVAL && e[2] == -XEN_EINVAL && e[3] == -XEN_EINVAL,
		      "port %x: bind_interdomain (to dom0's), send, close, unmask: -EINVAL (got %ld %ld %ld %ld)",
		      p, e[0], e[1], e[2], e[3]);
	}
	check_eq(evtchn_op_raw(EVTCHNOP_send, PVLAB_TIMER_PORT), -XEN_EINVAL, "send on a virq port: -EINVAL");
	struct evtchn_bind_interdomain b = { .remote_dom = 5, .remote_port = 2 };
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b), -XEN_ESRCH, "bind to a domain that does not exist: -ESRCH");
	b.remote_dom = DOMID_IO;
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b), -XEN_ESRCH, "bind to DOMID_IO: -ESRCH");
	struct evtchn_alloc_unbound a = { .dom = 0, .remote_dom = DOMID_SELF };
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a), -XEN_EPERM, "allocate a port of dom0: -EPERM");
	a = (struct evtchn_alloc_unbound){ .dom = DOMID_SELF, .remote_dom = 7 };
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a), -XEN_ESRCH, "allocate for a domain that does not exist: -ESRCH");
	check_eq(status_of(0, 2, &st), -XEN_EPERM, "status of dom0's port: -EPERM");
	check_eq(status_of(DOMID_SELF, EVTCHN_MAX_PORTS, &st), -XEN_EINVAL, "status of a port out of range: -EINVAL");
	check(status_of(DOMID_SELF, 0, &st) == 0 && st.status == EVTCHNSTAT_closed, "status of port 0: closed");
	struct evtchn_bind_virq v = { .virq = NR_VIRQS };
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &v), -XEN_EINVAL, "bind_virq NR_VIRQS: -EINVAL");
	v = (struct evtchn_bind_virq){ .virq = 0xffffffff };
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &v), -XEN_EINVAL, "bind_virq -1: -EINVAL");
	v = (struct evtchn_bind_virq){ .virq = VIRQ_TIMER, .vcpu = 1 };
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &v), -XEN_ENOENT, "bind_virq on vCPU 1: -ENOENT");
	check_eq(HYPERVISOR_event_channel_op(99, &st), -XEN_ENOSYS, "an unknown command: -ENOSYS");
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_send, NULL), -XEN_EFAULT, "a NULL argument: -EFAULT");
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_status, (void *)0xffff800000000000ULL), -XEN_EFAULT,
		 "an argument in the hypervisor's half: -EFAULT");
	static evtchn_port_t ports[SCHED_POLL_MAX + 1];
	check_eq(poll_raw(ports, SCHED_POLL_MAX + 1), -XEN_EINVAL, "poll on 129 ports: -EINVAL");
	ports[3] = EVTCHN_MAX_PORTS;
	check_eq(poll_raw(ports, 4), -XEN_EINVAL, "poll on a port out of range: -EINVAL");
	check_eq(poll_raw((evtchn_port_t *)8, 1), -XEN_EFAULT, "poll on an unreadable list: -EFAULT");
	check_eq(HYPERVISOR_sched_op(SCHEDOP_poll, (void *)8), -XEN_EFAULT, "poll with an unreadable argument: -EFAULT");
	/* Fill the table: port 0 is never used, 1 is the timer, q is bound, and a domU has
	 * its store port. */
	static long mine[EVTCHN_MAX_PORTS];
	int n = 0;
	while (n < EVTCHN_MAX_PORTS && (mine[n] = evtchn_alloc_unbound(DOMID_SELF, NULL)) > 0)
		n++;
	check_eq(n, EVTCHN_MAX_PORTS - 3 - (start_info->store_evtchn ? 1 : 0), "ports until the table is full");
	check_eq(n < EVTCHN_MAX_PORTS ? mine[n] : 0, -XEN_ENOSPC, "... then -ENOSPC");
	b = (struct evtchn_bind_interdomain){ .remote_dom = DOMID_SELF, .remote_port = (u32)mine[0] };
	check_eq(HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b), -XEN_ENOSPC, "bind with a full table: -ENOSPC");
	int closed = 0;
	for (int i = 0; i < n; i++)
		closed += evtchn_unbind((unsigned)mine[i]) == 0;
	check_eq(closed, n, "every one closes again");
	check_eq(evtchn_notify((unsigned)q), 0, "and the channel to dom0 still works");
}

/* The survivor: answers pings until they stop, then finds its end unbound. */
TEST(test_survivor, "evtchn-survivor", "a peer crashes mid-ping-pong; we go on")
{
	struct evtchn_status st;
	if (!setup())
		return;
	long p = evtchn_alloc_unbound(1, on_a);
	if (!check(p > 0, "allocate an unbound port for d1 (%ld)", p))
		return;
	int i;
	for (i = 1; wait_count(&count_a, i, 1000 * MS); i++)
		evtchn_notify((unsigned)p);
	check(count_a >= 5, "the peer played %lu rounds, then went silent", count_a);
	check(status_of(DOMID_SELF, (unsigned)p, &st) == 0 && st.status == EVTCHNSTAT_unbound &&
	      st.u.unbound.dom == 1, "my end is unbound again: the dead peer's end was closed");
	check_eq(evtchn_notify((unsigned)p), 0, "sending now goes nowhere");
	sleep_ns(20 * MS);
	check(true, "still running");
}

/* The peer that crashes: a few round trips, then a triple fault right after a ping. */
TEST(test_crash, "evtchn-crash", "ping-pong a little, then crash")
{
	if (!setup())
		return;
	long q = bind_peer(0, on_b);
	if (!check(q > 0, "bind dom0's port (%ld)", q))
		return;
	wait_count(&count_b, 1, 1000 * MS);
	for (int i = 1; i <= 10; i++) {
		evtchn_notify((unsigned)q);
		wait_count(&count_b, i + 1, 1000 * MS);
	}
	evtchn_notify((unsigned)q);	/* dom0 will answer a domain that is gone */
	printf("crashing now\n");
	static const struct { u16 limit; u64 base; } __attribute__((packed)) no_idt = { 0, 0 };
	__asm__ volatile("lidt %0; int3" :: "m"(no_idt));
	check(false, "survived a triple fault");
}
