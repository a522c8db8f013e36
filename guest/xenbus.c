/*
 * The store's client (lab 6, given): the xenbus_* calls of guest/kernel.h.  In a domU each
 * call is a request on the req ring of our store page (start_info.store_mfn, an ordinary
 * page of ours) and a notification on start_info.store_evtchn; we then wait for the reply
 * with the final-check discipline (interrupts off, look, block, look again).  Watch events
 * that arrive meanwhile are queued for xenbus_watch_pop().  In dom0 the same calls run
 * locally in the server (xenstored.c): dom0 IS the store.
 *
 * The rsp ring is read only by the calling thread, with interrupts off, never by the
 * upcall: our port's handler does nothing, the event only wakes SCHEDOP_block.  dom0 is
 * trusted here as a backend trusts nothing: its rsp_prod is bounded and each message copied
 * out once, and a dom0 that does not answer within REPLY_TIMEOUT gives -XEN_EIO, not a hang.
 */
#include "guest/xenstore.h"

#define MS		1000000ULL
#define REPLY_TIMEOUT	(10000 * MS)	/* a reply later than this: -XEN_EIO */
#define DOM0_TICK	(20 * MS)	/* dom0 waiting for a watch still serves this often */
#define WATCH_QUEUE	64		/* fired watches not yet popped (more: dropped, one line) */

static bool dom0, attached, broken;
static volatile struct xenstore_domain_interface *intf;
static unsigned store_port;
static XENSTORE_RING_IDX req_prod, rsp_cons;	/* ours: we write, never read back */
static u32 last_id;

static char watch_queue[WATCH_QUEUE][XENSTORE_PATH_MAX];
static bool wq_lost;		/* an event was dropped since xenbus_watch_lost() last looked */
static unsigned wq_head, wq_n;
static u64 wq_dropped;

/* The reply being waited for: its id, then type and payload once it came. */
static struct {
	u32 id, type, len;
	bool done;
	char payload[XENSTORE_PAYLOAD_MAX + 1];
} want;

static const struct {
	long err;
	const char *name;
} errnames[] = {
	{ -XEN_ENOENT, "ENOENT" }, { -XEN_EACCES, "EACCES" }, { -XEN_EINVAL, "EINVAL" },
	{ -XEN_E2BIG, "E2BIG" }, { -XEN_ENOSPC, "ENOSPC" }, { -XEN_EEXIST, "EEXIST" },
	{ -XEN_ENOSYS, "ENOSYS" }, { -XEN_EIO, "EIO" }, { -XEN_EPERM, "EPERM" },
	{ -XEN_ENOMEM, "ENOMEM" }, { -XEN_EAGAIN, "EAGAIN" }, { -XEN_EBUSY, "EBUSY" },
};

const char *xs_errname(long err)
{
	for (unsigned i = 0; i < ARRAY_SIZE(errnames); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	return "EIO";
}

long xs_errnum(const char *name)
{
	for (unsigned i = 0; i < ARRAY_SIZE(errnames); i++)
		if (!strcmp(errnames[i].name, name))
			return errnames[i].err;
	return -XEN_EIO;
}

void xenbus_event_push(const char *path)
{
	if (wq_n == WATCH_QUEUE) {
		wq_lost = true;
		if (wq_dropped++ == 0)
			printf("xenbus: more than %u watch events not popped: dropping\n", WATCH_QUEUE);
		return;
	}
	strlcpy(watch_queue[(wq_head + wq_n++) % WATCH_QUEUE], path, XENSTORE_PATH_MAX);
}

static void store_event(unsigned port UNUSED)
{
}	/* the event's work is waking SCHEDOP_block: the waiter reads the ring */

long xenbus_init(void)
{
	long r;
	if (attached)
		return 0;
	if (!shared_info && (r = time_init()) < 0)
		return r;
	dom0 = start_info->flags & SIF_INITDOMAIN;
	if (dom0) {
		if ((r = xenstored_init()) < 0)
			return r;
		attached = true;
		return 0;
	}
	if (!start_info->store_mfn || !start_info->store_evtchn ||
	    mfn_to_pfn(start_info->store_mfn) == INVALID_PFN)
		return -XEN_ENOENT;
	intf = mfn_to_virt(start_info->store_mfn);
	store_port = start_info->store_evtchn;
	req_prod = intf->req_prod;
	rsp_cons = intf->rsp_cons;
	evtchn_set_handler(store_port, store_event);
	attached = true;
	return 0;
}

static void ring_copy_in(volatile char *ring, XENSTORE_RING_IDX at, const void *src, u32 n)
{
	for (u32 i = 0; i < n; i++)
		ring[MASK_XENSTORE_IDX(at + i)] = ((const char *)src)[i];
}

static void ring_copy_out(const volatile char *ring, XENSTORE_RING_IDX at, void *dst, u32 n)
{
	for (u32 i = 0; i < n; i++)
		((char *)dst)[i] = ring[MASK_XENSTORE_IDX(at + i)];
}

/* Take every whole message out of the rsp ring: the awaited reply into `want`, watch
 * events into the queue, stale replies (of a call that timed out) nowhere.  Interrupts
 * off.  Tells dom0 when it made room. */
static void drain(void)
{
	static char buf[XENSTORE_PAYLOAD_MAX + 1];
	XENSTORE_RING_IDX start = rsp_cons;
	while (!broken) {
		struct xsd_sockmsg h;
		u32 avail = READ_ONCE(intf->rsp_prod) - rsp_cons;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (avail > XENSTORE_RING_SIZE) {
			printf("xenbus: rsp_prod is %u bytes ahead: the store is broken\n", avail);
			broken = true;
			break;
		}
		if (avail < sizeof(h))
			break;
		ring_copy_out(intf->rsp, rsp_cons, &h, sizeof(h));
		if (h.len > XENSTORE_PAYLOAD_MAX) {
			printf("xenbus: a reply of %u bytes: the store is broken\n", h.len);
			broken = true;
			break;
		}
		if (avail < sizeof(h) + h.len)
			break;
		ring_copy_out(intf->rsp, rsp_cons + sizeof(h), buf, h.len);
		buf[h.len] = 0;
		rsp_cons += sizeof(h) + h.len;
		if (h.type == XS_WATCH_EVENT) {
			xenbus_event_push(buf);
		} else if (h.req_id == want.id && !want.done) {
			memcpy(want.payload, buf, h.len + 1);
			want.type = h.type, want.len = h.len, want.done = true;
		}
	}
	if (rsp_cons != start) {
		__atomic_thread_fence(__ATOMIC_RELEASE);
		WRITE_ONCE(intf->rsp_cons, rsp_cons);
		evtchn_notify(store_port);
	}
}

/* Interrupts off; returns whether they were on (a caller may already have them off). */
static bool irq_save(void)
{
	bool on = read_rflags() & RFLAGS_IF;
	cli();
	return on;
}

static void irq_restore(bool on)
{
	if (on)
		sti();
}

/* drain() with interrupts off. */
static void drain_now(void)
{
	bool on = irq_save();
	drain();
	irq_restore(on);
}

/* Block until an event or the deadline, unless `ready` holds once interrupts are off
 * (the final check: an event between the look and the block still wakes us). */
static void sleep_unless(bool (*ready)(void), u64 deadline)
{
	bool on = irq_save();
	if (!ready()) {
		HYPERVISOR_set_timer_op(deadline);
		HYPERVISOR_sched_op(SCHEDOP_block, NULL);
		irq_window();
	}
	irq_restore(on);
}

static u32 msg_len;	/* of the request waiting for room */

static bool rsp_waiting(void)
{
	return READ_ONCE(intf->rsp_prod) != rsp_cons || broken;
}

static bool req_room(void)
{
	return XENSTORE_RING_SIZE - (req_prod - READ_ONCE(intf->req_cons)) >= msg_len || rsp_waiting();
}

/* One request over the ring; its reply in `want`.  0 or -XEN_EIO. */
static long ring_call(u32 type, const char *payload, u32 len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = ++last_id, .len = len };
	u64 deadline = get_system_time() + REPLY_TIMEOUT;
	want.id = h.req_id, want.done = false;
	msg_len = sizeof(h) + len;
	for (;;) {	/* room for the request (dom0 may be slow to consume) */
		u32 used = req_prod - READ_ONCE(intf->req_cons);
		if (used <= XENSTORE_RING_SIZE && XENSTORE_RING_SIZE - used >= msg_len)
			break;
		if (broken || used > XENSTORE_RING_SIZE || get_system_time() >= deadline)
			return -XEN_EIO;
		drain_now();
		sleep_unless(req_room, deadline);
	}
	ring_copy_in(intf->req, req_prod, &h, sizeof(h));
	ring_copy_in(intf->req, req_prod + sizeof(h), payload, len);
	req_prod += msg_len;
	__atomic_thread_fence(__ATOMIC_RELEASE);	/* the bytes before the index */
	WRITE_ONCE(intf->req_prod, req_prod);
	evtchn_notify(store_port);
	for (;;) {
		drain_now();
		if (want.done)
			return 0;
		if (broken || get_system_time() >= deadline)
			return -XEN_EIO;
		sleep_unless(rsp_waiting, deadline);
	}
}

/* Request `type` with payload a, NUL, then b (blen bytes, plus a NUL if b_nul).  The
 * reply's payload in reply (XENSTORE_PAYLOAD_MAX + 1 bytes, NUL-terminated), its length
 * in *rlen.  0 or -XEN_Exxx (the server's error, or -XEN_EIO). */
static long call(u32 type, const char *a, const char *b, u32 blen, bool b_nul, char *reply, u32 *rlen)
{
	char msg[XENSTORE_PAYLOAD_MAX];
	size_t alen = strlen(a) + 1;
	if (!attached)
		return -XEN_EIO;
	if (alen > XENSTORE_PATH_MAX || alen + blen + b_nul > sizeof(msg))
		return -XEN_E2BIG;
	memcpy(msg, a, alen);
	memcpy(msg + alen, b, blen);
	if (b_nul)
		msg[alen + blen] = 0;
	u32 len = (u32)(alen + blen + b_nul), t;
	if (dom0) {
		t = xenstored_local(type, msg, len, reply, rlen);
	} else {
		long r = ring_call(type, msg, len);
		if (r < 0)
			return r;
		t = want.type, *rlen = want.len;
		memcpy(reply, want.payload, want.len);
	}
	reply[*rlen] = 0;
	return t == XS_ERROR ? xs_errnum(reply) : t == type ? 0 : -XEN_EIO;
}

long xenbus_read(const char *path, char *buf, size_t len)
{
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	u32 n;
	long r = call(XS_READ, path, "", 0, false, reply, &n);
	if (r < 0)
		return r;
	if (n + 1 > len)
		return -XEN_E2BIG;
	memcpy(buf, reply, n + 1);
	return n;
}

long xenbus_write(const char *path, const char *value)
{
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	u32 n;
	return call(XS_WRITE, path, value, (u32)strlen(value), false, reply, &n);
}

long xenbus_printf(const char *path, const char *fmt, ...)
{
	char value[XENSTORE_VALUE_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || n > XENSTORE_VALUE_MAX)
		return -XEN_E2BIG;
	return xenbus_write(path, value);
}

long xenbus_read_u64(const char *path, u64 *val)
{
	char buf[24];
	long r = xenbus_read(path, buf, sizeof(buf));
	if (r < 0)
		return r == -XEN_E2BIG ? -XEN_EINVAL : r;
	u64 v = 0;
	if (r == 0)
		return -XEN_EINVAL;
	for (long i = 0; i < r; i++) {
		if (buf[i] < '0' || buf[i] > '9' || v > (~0ULL - 9) / 10)
			return -XEN_EINVAL;
		v = v * 10 + (u64)(buf[i] - '0');
	}
	*val = v;
	return 0;
}

long xenbus_rm(const char *path)
{
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	u32 n;
	return call(XS_RM, path, "", 0, false, reply, &n);
}

long xenbus_directory(const char *path, char *buf, size_t len)
{
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	u32 n;
	long r = call(XS_DIRECTORY, path, "", 0, false, reply, &n), count = 0;
	if (r < 0)
		return r;
	if (n > len || (n && reply[n - 1]))
		return n > len ? -XEN_E2BIG : -XEN_EIO;
	memcpy(buf, reply, n);
	for (u32 i = 0; i < n; i++)
		count += reply[i] == 0;
	return count;
}

/* A watch's token is its path: one watch per path. */
long xenbus_watch(const char *path)
{
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	u32 n;
	return call(XS_WATCH, path, path, (u32)strlen(path), true, reply, &n);
}

long xenbus_unwatch(const char *path)
{
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	u32 n;
	return call(XS_UNWATCH, path, path, (u32)strlen(path), true, reply, &n);
}

bool xenbus_watch_lost(void)
{
	bool lost = wq_lost;
	wq_lost = false;
	return lost;
}

bool xenbus_watch_pop(char *path, size_t len)
{
	if (attached && dom0) {
		xenstored_poll();
	} else if (attached) {
		drain_now();
	}
	if (!wq_n)
		return false;
	strlcpy(path, watch_queue[wq_head], len);
	wq_head = (wq_head + 1) % WATCH_QUEUE;
	wq_n--;
	return true;
}

static bool dom0_waiting(void)
{
	return xenstored_pending() || wq_n;
}

static bool domU_waiting(void)
{
	return rsp_waiting() || wq_n;
}

long xenbus_wait_watch(char *path, size_t len, u64 timeout_ns)
{
	u64 deadline = timeout_ns ? get_system_time() + timeout_ns : 0;
	if (!attached)
		return -XEN_EIO;
	for (;;) {
		if (xenbus_watch_pop(path, len))
			return 0;
		if (broken)
			return -XEN_EIO;
		u64 now = get_system_time();
		if (deadline && now >= deadline)
			return -XEN_ETIMEDOUT;
		/* dom0 looks for dead domains on a tick too: a death raises no event here */
		u64 wake = dom0 ? now + DOM0_TICK : now + REPLY_TIMEOUT;
		sleep_unless(dom0 ? dom0_waiting : domU_waiting, deadline ? MIN(deadline, wake) : wake);
	}
}
