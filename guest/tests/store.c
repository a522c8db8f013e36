/* The store (lab 6, given code): dom0 runs store-server, which serves every domU until
 * all are gone, and does on request what a test needs from the other side (a write, a
 * burst of writes, a vif backend's half of the XenbusState walk); each domU runs one of
 * the client tests below.  A domU asks by writing a command to its own "ask" node, which
 * dom0 watches; dom0 answers by writing the command's number to "ask-done". */
#include "guest/test.h"
#include "public/io/xs_wire.h"
#include "public/io/xenbus.h"

#define MS 1000000ULL
#define MAX_DOMS 8

static domid_t self_id(void)
{
	return (domid_t)test_option_num("self", 1);
}

/* ---------------------------------------------------------------------------------------
 * dom0: the server, and the other side of each test.
 */

/* The frontend states the backend must see (Connected may pass unseen: the frontend goes
 * on to Closing without waiting). */
#define FRONT_WALK (1U << XenbusStateInitialising | 1U << XenbusStateInitialised | \
		    1U << XenbusStateClosing | 1U << XenbusStateClosed)

struct peer {
	bool live, released;
	bool backend;			/* its vif backend exists */
	bool walk;			/* ... and its frontend will walk the states */
	u64 last_front;			/* the last frontend state we acted on */
	unsigned front_states;		/* bit s: we saw the frontend in state s */
};
static struct peer peers[MAX_DOMS];

static void dom0_write(const char *path, const char *value)
{
	long r = xenbus_write(path, value);
	if (r < 0)
		printf("store-server: write %s: %ld\n", path, r);
}

/* "backend": create d's vif backend and point its frontend at it. */
static void backend_create(domid_t d)
{
	char p[96], v[96];
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u/0/frontend", d);
	snprintf(v, sizeof(v), "/local/domain/%u/device/vif/0", d);
	dom0_write(p, v);
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u/0/frontend-id", d);
	snprintf(v, sizeof(v), "%u", d);
	dom0_write(p, v);
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u/0/state", d);
	dom0_write(p, "1");
	snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/backend", d);
	snprintf(v, sizeof(v), "/local/domain/0/backend/vif/%u/0", d);
	dom0_write(p, v);
	snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/backend-id", d);
	dom0_write(p, "0");
	snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/state", d);
	dom0_write(p, "1");
	xenbus_watch(p);
	peers[d].backend = true;
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u/0/state", d);
	dom0_write(p, "2");	/* InitWait: ready for the frontend's details */
}

/* The frontend of d moved: the backend's half of the walk. */
static void backend_step(domid_t d)
{
	char p[96], bstate[96];
	u64 s, v;
	snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/state", d);
	if (xenbus_read_u64(p, &s) < 0 || s == peers[d].last_front || s > 31)
		return;
	peers[d].last_front = s;
	peers[d].front_states |= 1U << s;
	snprintf(bstate, sizeof(bstate), "/local/domain/0/backend/vif/%u/0/state", d);
	if (s == XenbusStateInitialised) {
		static const char *const keys[] = { "tx-ring-ref", "rx-ring-ref", "event-channel" };
		for (unsigned i = 0; i < ARRAY_SIZE(keys); i++) {
			snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/%s", d, keys[i]);
			if (!check(xenbus_read_u64(p, &v) == 0 && v == 10 + i, "d%u's frontend wrote %s", d, keys[i]))
				return;
		}
		dom0_write(bstate, "4");
	} else if (s == XenbusStateClosing) {
		dom0_write(bstate, "5");
		dom0_write(bstate, "6");
	}
}

/* Domain d wrote its ask node: do what it says, then write ask-done. */
static void ask(domid_t d)
{
	char p[64], cmd[XENSTORE_VALUE_MAX + 1], *arg;
	snprintf(p, sizeof(p), "/local/domain/%u/ask", d);
	if (xenbus_read(p, cmd, sizeof(cmd)) <= 0)
		return;
	arg = strchr(cmd, ' ');
	if (arg)
		*arg++ = 0;
	if (!strcmp(cmd, "backend")) {
		backend_create(d);
		peers[d].walk = arg && !strcmp(arg, "walk");
	} else if (!strcmp(cmd, "write") && arg && strchr(arg, ' ')) {
		char *value = strchr(arg, ' ');
		*value++ = 0;
		dom0_write(arg, value);
	} else if (!strcmp(cmd, "spam") && arg) {
		for (unsigned i = 0; i < 100; i++)	/* dom0 must neither spin nor overwrite */
			xenbus_printf(arg, "%u", i);
	}
	snprintf(p, sizeof(p), "/local/domain/%u/ask-done", d);
	dom0_write(p, cmd);
}

/* Is domain d still there (not dying)? */
static bool domain_alive(domid_t d)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo,
				 .interface_version = XEN_DOMCTL_INTERFACE_VERSION, .domain = d };
	return HYPERVISOR_domctl(&op) == 0 && op.u.getdomaininfo.domain == d &&
	       !(op.u.getdomaininfo.flags & XEN_DOMINF_dying);
}

/* @releaseDomain fired: a peer that is gone and has lost its home is released.  (One that
 * died since the store last looked still has it: the store's own release of it will fire
 * @releaseDomain again.) */
static void released(void)
{
	char p[32], v[8];
	for (domid_t d = 1; d < MAX_DOMS; d++) {
		snprintf(p, sizeof(p), "/local/domain/%u", d);
		if (!peers[d].live || peers[d].released || domain_alive(d) ||
		    xenbus_read(p, v, sizeof(v)) != -XEN_ENOENT)
			continue;
		peers[d].released = true;
		printf("store-server: d%u released\n", d);
	}
}

static void server_event(const char *path)
{
	unsigned d;
	if (!strcmp(path, "@releaseDomain")) {
		released();
		return;
	}
	for (d = 1; d < MAX_DOMS; d++) {
		char p[64];
		snprintf(p, sizeof(p), "/local/domain/%u/ask", d);
		if (!strcmp(path, p)) {
			ask((domid_t)d);
			return;
		}
		snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/state", d);
		if (!strcmp(path, p) && peers[d].backend) {
			backend_step((domid_t)d);
			return;
		}
	}
}

/* getdomaininfo's contract, seen from dom0. */
static void domctl_checks(void)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo,
				 .interface_version = XEN_DOMCTL_INTERFACE_VERSION, .domain = 0 };
	check(HYPERVISOR_domctl(&op) == 0 && op.u.getdomaininfo.domain == 0 && op.u.getdomaininfo.store_mfn == 0 &&
	      op.u.getdomaininfo.store_evtchn == 0 && (op.u.getdomaininfo.flags & XEN_DOMINF_running) &&
	      op.u.getdomaininfo.tot_pages == start_info->nr_pages,
	      "getdomaininfo(0): dom0, running, %lu pages, no store page", op.u.getdomaininfo.tot_pages);
	op.domain = 1;
	check(HYPERVISOR_domctl(&op) == 0 && op.u.getdomaininfo.domain == 1 && op.u.getdomaininfo.store_mfn &&
	      op.u.getdomaininfo.store_evtchn > PVLAB_TIMER_PORT, "getdomaininfo(1): d1's store page and port (%u)",
	      op.u.getdomaininfo.store_evtchn);
	op.domain = 100;
	check_eq(HYPERVISOR_domctl(&op), -XEN_ESRCH, "getdomaininfo past the last domain: -ESRCH");
	op.domain = 0, op.interface_version = 1;
	check_eq(HYPERVISOR_domctl(&op), -XEN_EACCES, "another interface version: -EACCES");
	op.interface_version = XEN_DOMCTL_INTERFACE_VERSION, op.cmd = 77;
	check_eq(HYPERVISOR_domctl(&op), -XEN_ENOSYS, "an unknown command: -ENOSYS");
	check_eq(HYPERVISOR_domctl((struct xen_domctl *)8), -XEN_EFAULT, "an unreadable argument: -EFAULT");
}

TEST(test_store_server, "store-server", "dom0 serves the store until every domU is gone")
{
	domid_t late = (domid_t)test_option_num("after_blocked", 0);
	char path[XENSTORE_PATH_MAX], p[64];
	unsigned domus = 0, gone = 0;
	if (late) {	/* start only once domain `late` has blocked: it did its worst by then */
		check_eq(time_init(), 0, "events");
		bool blocked = false;
		for (int i = 0; i < 2000 && !blocked; i++) {
			struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo, .domain = late,
						 .interface_version = XEN_DOMCTL_INTERFACE_VERSION };
			blocked = HYPERVISOR_domctl(&op) == 0 && (op.u.getdomaininfo.flags & XEN_DOMINF_blocked);
			sleep_ns(5 * MS);
		}
		check(blocked, "d%u blocked before the store started", late);
	}
	if (!check_eq(xenbus_init(), 0, "start the store"))
		return;
	check_eq(xenbus_watch("@releaseDomain"), 0, "watch @releaseDomain");
	for (domid_t d = 1; d < MAX_DOMS; d++) {
		if (!domain_alive(d))
			continue;
		peers[d].live = true;
		domus++;
		snprintf(p, sizeof(p), "/local/domain/%u/ask", d);
		xenbus_watch(p);
	}
	check(domus > 0, "domUs to serve: %u", domus);
	domctl_checks();
	u64 deadline = get_system_time() + 60000 * MS, all_dead = 0;
	while (get_system_time() < deadline) {
		while (xenbus_watch_pop(path, sizeof(path)))
			server_event(path);
		gone = 0;
		for (domid_t d = 1; d < MAX_DOMS; d++)
			gone += peers[d].released;
		if (gone == domus)
			break;
		bool any = false;
		for (domid_t d = 1; d < MAX_DOMS; d++)
			any |= peers[d].live && domain_alive(d);
		if (!any && !all_dead)
			all_dead = get_system_time();
		if (!any && get_system_time() > all_dead + 2000 * MS)
			break;	/* every domU is dead: 2 s is ample for the store to release them */
		if (xenbus_wait_watch(path, sizeof(path), 50 * MS) == 0)
			server_event(path);
	}
	check_eq(gone, domus, "every domU's release was seen, each with its home gone");
	for (domid_t d = 1; d < MAX_DOMS; d++)
		if (peers[d].walk)
			check((peers[d].front_states & FRONT_WALK) == FRONT_WALK && peers[d].last_front == 6,
			      "d%u's frontend went Initialising, Initialised, Closing, Closed: the states "
			      "the backend waits for (seen 0x%x)", d, peers[d].front_states);
}

/* ---------------------------------------------------------------------------------------
 * domUs: the clients.
 */

/* Ask dom0 for cmd and wait for its answer. */
static bool ask_dom0(const char *cmd)
{
	char path[XENSTORE_PATH_MAX], done[XENSTORE_VALUE_MAX + 1];
	xenbus_rm("ask-done");
	if (xenbus_write("ask", cmd) < 0)
		return false;
	u64 deadline = get_system_time() + 10000 * MS;
	while (get_system_time() < deadline) {
		if (xenbus_read("ask-done", done, sizeof(done)) >= 0)
			return true;
		xenbus_wait_watch(path, sizeof(path), 20 * MS);
	}
	return false;
}

TEST(test_store_basic, "store-basic", "read, write, rm and directory from a domU")
{
	char buf[XENSTORE_VALUE_MAX + 1], home[32], p[XENSTORE_PATH_MAX + 8];
	u64 v;
	domid_t me = self_id();
	snprintf(home, sizeof(home), "/local/domain/%u", me);
	if (!check_eq(gnttab_init(), 0, "set up my grant table (a split driver would)"))
		return;
	struct grant_entry_v1 e = gnttab[GNTTAB_RESERVED_XENSTORE];
	check((e.flags & GTF_type_mask) == GTF_permit_access && e.domid == 0 && e.frame == start_info->store_mfn,
	      "it kept the builder's ref 1: my store page, for dom0 (flags %x, domid %u)", e.flags, e.domid);
	check(grant_foreign_access(0, virt_to_mfn(alloc_page()), false) == GNTTAB_NR_RESERVED_ENTRIES,
	      "my first grant is still ref 8");
	if (!check_eq(xenbus_init(), 0, "attach to the store"))
		return;
	snprintf(p, sizeof(p), "%s/data/a", home);
	if (!check_eq(xenbus_write(p, "hello"), 0, "write an absolute path (and its parent)"))
		return;	/* no store: every other call would wait out its timeout */
	check_eq(xenbus_read(p, buf, sizeof(buf)), 5, "read it back: its length");
	check(!strcmp(buf, "hello"), "... and its value (%s)", buf);
	check_eq(xenbus_read("data/a", buf, sizeof(buf)), 5, "the same node by its relative path");
	check_eq(xenbus_write("data/b", ""), 0, "write an empty value, relative");
	check_eq(xenbus_read("data/b", buf, sizeof(buf)), 0, "read the empty value");
	check_eq(xenbus_printf("data/n", "%u", 4242), 0, "printf a number");
	check(xenbus_read_u64("data/n", &v) == 0 && v == 4242, "read it as a number (%lu)", v);
	check_eq(xenbus_read_u64("data/a", &v), -XEN_EINVAL, "a value that is no number: -EINVAL");
	check_eq(xenbus_read("data/a", buf, 5), -XEN_E2BIG, "a buffer too small for value and NUL: -E2BIG");
	check_eq(xenbus_read("data/none", buf, sizeof(buf)), -XEN_ENOENT, "a node never written: -ENOENT");
	check_eq(xenbus_write("data/c/d/e", "deep"), 0, "a write creates every missing parent");
	check_eq(xenbus_read("data/c/d", buf, sizeof(buf)), 0, "... which exist, empty");
	long n = xenbus_directory("data", buf, sizeof(buf));
	bool names = n == 4;
	for (const char *s = buf; names && s < buf + 16 && n-- > 0; s += strlen(s) + 1)
		names = !strcmp(s, "a") || !strcmp(s, "b") || !strcmp(s, "n") || !strcmp(s, "c");
	check(names, "the directory lists a, b, n and c once each");
	check_eq(xenbus_directory("data/none", buf, sizeof(buf)), -XEN_ENOENT, "the directory of no node: -ENOENT");
	check_eq(xenbus_rm("data/c"), 0, "rm a node with children");
	check_eq(xenbus_read("data/c/d/e", buf, sizeof(buf)), -XEN_ENOENT, "its children went with it");
	check_eq(xenbus_rm("data/c"), -XEN_ENOENT, "rm it again: -ENOENT");
	static char big[XENSTORE_VALUE_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	check_eq(xenbus_write("data/long", big), -XEN_E2BIG, "a value over 256 bytes: -E2BIG");
	big[XENSTORE_VALUE_MAX] = 0;
	check_eq(xenbus_write("data/long", big), 0, "a value of 256 bytes");
	check_eq(xenbus_read("data/long", buf, sizeof(buf)), XENSTORE_VALUE_MAX, "... reads back whole");
	snprintf(p, sizeof(p), "data/%0120u", 7);
	check_eq(xenbus_write(p, "x"), -XEN_E2BIG, "a path over 128 bytes: -E2BIG");
	check_eq(xenbus_write("data//x", "x"), -XEN_EINVAL, "an empty path component: -EINVAL");
	check_eq(xenbus_write("data/x/", "x"), -XEN_EINVAL, "a trailing slash: -EINVAL");
	check_eq(xenbus_write("data/a b", "x"), -XEN_EINVAL, "a space in a path: -EINVAL");
	check_eq(xenbus_rm("data"), 0, "clean up");
}

TEST(test_store_perms, "store-perms", "a domU reaches only its home and its backends")
{
	char buf[64], p[96];
	domid_t me = self_id(), other = (domid_t)test_option_num("other", 2);
	if (!check_eq(xenbus_init(), 0, "attach to the store"))
		return;
	snprintf(p, sizeof(p), "/local/domain/%u/x", other);
	check_eq(xenbus_write(p, "x"), -XEN_EACCES, "write into another domU's home: -EACCES");
	snprintf(p, sizeof(p), "/local/domain/%u", other);
	check_eq(xenbus_read(p, buf, sizeof(buf)), -XEN_EACCES, "read another domU's home: -EACCES");
	snprintf(p, sizeof(p), "/local/domain/%u/name", me);
	check_eq(xenbus_write(p, "me"), 0, "write into my own home");
	snprintf(p, sizeof(p), "/local/domain/%u", me);
	check_eq(xenbus_write(p, "x"), -XEN_EACCES, "overwrite my home node itself: -EACCES");
	check_eq(xenbus_rm(p), -XEN_EACCES, "remove my home node: -EACCES");
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u/0/state", me);
	check_eq(xenbus_write(p, "4"), -XEN_EACCES, "write into dom0's backend directory for me: -EACCES");
	check_eq(xenbus_write("/local/domain/0/x", "x"), -XEN_EACCES, "write into dom0's home: -EACCES");
	check_eq(xenbus_write("/x", "x"), -XEN_EACCES, "write at the top: -EACCES");
	check_eq(xenbus_read("/local/domain/0", buf, sizeof(buf)), -XEN_EACCES, "read dom0's home: -EACCES");
	check_eq(xenbus_directory("/local/domain", buf, sizeof(buf)), -XEN_EACCES, "list the domains: -EACCES");
	check_eq(xenbus_watch("@releaseDomain"), -XEN_EACCES, "watch @releaseDomain: -EACCES");
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo,
				 .interface_version = XEN_DOMCTL_INTERFACE_VERSION, .domain = 0 };
	check_eq(HYPERVISOR_domctl(&op), -XEN_EPERM, "domctl from a domU: -EPERM");
	snprintf(p, sizeof(p), "/local/domain/%u", other);
	check_eq(xenbus_watch(p), -XEN_EACCES, "watch another domU's home: -EACCES");
	check(ask_dom0("backend"), "dom0 made my vif backend");
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u/0/state", me);
	check_eq(xenbus_read(p, buf, sizeof(buf)), 1, "read my backend's state");
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u", me);
	check(xenbus_directory(p, buf, sizeof(buf)) == 1 && !strcmp(buf, "0"), "list my backend's devices");
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u0/0/state", me);
	check(xenbus_read(p, buf, sizeof(buf)) == -XEN_EACCES, "a backend directory of d%u0: -EACCES", me);
	check_eq(xenbus_read("/local/domain/0/backend/vif", buf, sizeof(buf)), -XEN_EACCES,
		 "the backend type's own node: -EACCES");
}

/* Every watch event caused so far, after one round trip (the server sends a request's
 * events before the next request's reply): how many; *saw: whether one had path `expect`,
 * and the last path in seen (for the message). */
static char seen[XENSTORE_PATH_MAX];
static unsigned events(const char *expect, bool *saw)
{
	char buf[8], path[XENSTORE_PATH_MAX];
	unsigned n = 0;
	xenbus_read("sync", buf, sizeof(buf));
	*saw = false;
	seen[0] = 0;
	while (xenbus_watch_pop(path, sizeof(path))) {
		*saw |= !strcmp(path, expect);
		strlcpy(seen, path, sizeof(seen));
		n++;
	}
	return n;
}

TEST(test_store_watch, "store-watch", "watches fire at registration, on writes and removals below")
{
	char want[XENSTORE_PATH_MAX], cmd[160];
	bool saw;
	domid_t me = self_id();
	if (!check_eq(xenbus_init(), 0, "attach to the store"))
		return;
	snprintf(want, sizeof(want), "/local/domain/%u/w", me);
	check_eq(xenbus_write("w/old", "1"), 0, "a node to watch");
	check_eq(xenbus_watch("w"), 0, "watch w (relative)");
	check(events(want, &saw) == 1 && saw, "it fires once at registration, with its absolute path (%s)", seen);
	check_eq(xenbus_write("w/x/y", "2"), 0, "write below it");
	snprintf(want, sizeof(want), "/local/domain/%u/w/x/y", me);
	check(events(want, &saw) == 1 && saw, "it fires once with the written path (%s)", seen);
	check_eq(xenbus_write("unrelated", "3"), 0, "write beside it");
	check_eq(xenbus_write("wx", "3"), 0, "write a sibling whose name starts the same");
	check_eq(events("", &saw), 0, "no event for either");
	check_eq(xenbus_rm("w/x"), 0, "rm below it");
	snprintf(want, sizeof(want), "/local/domain/%u/w/x", me);
	check(events(want, &saw) == 1 && saw, "it fires once with the removed path (%s)", seen);
	check_eq(xenbus_watch("w/old/deep"), 0, "a second watch, below a node about to go");
	check_eq(events("", &saw), 1, "... fires at registration");
	check_eq(xenbus_rm("w"), 0, "rm the watched node itself");
	snprintf(want, sizeof(want), "/local/domain/%u/w/old/deep", me);
	check(events(want, &saw) == 2 && saw, "both watches fire, the one below with its own path");
	check_eq(xenbus_watch("w"), -XEN_EEXIST, "the same watch twice: -EEXIST");
	check_eq(xenbus_unwatch("w/old/deep"), 0, "unwatch the second");
	snprintf(cmd, sizeof(cmd), "write /local/domain/%u/w/from-dom0 hi", me);
	check(ask_dom0(cmd), "dom0 wrote below the watch");
	snprintf(want, sizeof(want), "/local/domain/%u/w/from-dom0", me);
	check(events(want, &saw) >= 1 && saw, "the watch fires for dom0's write (%s)", seen);
	check_eq(xenbus_unwatch("w"), 0, "unwatch");
	check_eq(xenbus_unwatch("w"), -XEN_ENOENT, "unwatch again: -ENOENT");
	check_eq(xenbus_write("w/after", "4"), 0, "write below the old watch");
	check_eq(events("", &saw), 0, "no event after the unwatch");
}

/* Wait until the backend's state is s; false on a timeout. */
static bool backend_reaches(const char *bstate, u64 s)
{
	char path[XENSTORE_PATH_MAX];
	u64 v = 0;
	for (int i = 0; i < 500; i++) {
		if (xenbus_read_u64(bstate, &v) == 0 && v == s)
			return true;
		xenbus_wait_watch(path, sizeof(path), 20 * MS);
	}
	return false;
}

TEST(test_store_xenbus, "store-xenbus", "a frontend and dom0's backend walk the XenbusStates")
{
	char backend[XENSTORE_VALUE_MAX + 1], bstate[XENSTORE_PATH_MAX + 8];
	u64 v;
	if (!check_eq(xenbus_init(), 0, "attach to the store") || !check(ask_dom0("backend walk"), "dom0 made my backend"))
		return;
	check(xenbus_read("device/vif/0/backend", backend, sizeof(backend)) > 0, "read my backend's path (%s)", backend);
	check(xenbus_read_u64("device/vif/0/backend-id", &v) == 0 && v == 0, "my backend is dom0's");
	snprintf(bstate, sizeof(bstate), "%s/state", backend);
	check_eq(xenbus_watch(bstate), 0, "watch the backend's state");
	check(backend_reaches(bstate, XenbusStateInitWait), "the backend waits for me (InitWait)");
	check_eq(xenbus_write("device/vif/0/tx-ring-ref", "10") | xenbus_write("device/vif/0/rx-ring-ref", "11") |
		 xenbus_write("device/vif/0/event-channel", "12"), 0, "write my ring refs and port");
	check_eq(xenbus_printf("device/vif/0/state", "%u", XenbusStateInitialised), 0, "Initialised");
	check(backend_reaches(bstate, XenbusStateConnected), "the backend connects");
	check_eq(xenbus_printf("device/vif/0/state", "%u", XenbusStateConnected), 0, "Connected");
	check_eq(xenbus_printf("device/vif/0/state", "%u", XenbusStateClosing), 0, "Closing");
	check(backend_reaches(bstate, XenbusStateClosed), "the backend closes");
	check_eq(xenbus_printf("device/vif/0/state", "%u", XenbusStateClosed), 0, "Closed");
	xenbus_unwatch(bstate);
}

/* ---------------------------------------------------------------------------------------
 * Hostile clients: each breaks the protocol on its own page; dom0 and the other domUs
 * must not notice beyond one line of dom0's.
 */

static volatile struct xenstore_domain_interface *raw_page(void)
{
	return mfn_to_virt(start_info->store_mfn);
}

/* Put a message in the req ring by hand (whole, with its header) and notify. */
static void raw_send(u32 type, u32 id, u32 tx, const char *payload, u32 len)
{
	volatile struct xenstore_domain_interface *s = raw_page();
	struct xsd_sockmsg h = { .type = type, .req_id = id, .tx_id = tx, .len = len };
	XENSTORE_RING_IDX p = s->req_prod;
	for (u32 i = 0; i < sizeof(h) + len; i++)
		s->req[MASK_XENSTORE_IDX(p + i)] = i < sizeof(h) ? ((char *)&h)[i] : payload[i - sizeof(h)];
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->req_prod = p + sizeof(h) + len;
	evtchn_notify(start_info->store_evtchn);
}

/* Wait for and take one reply by hand: its header in *h, payload in buf.  false on a
 * timeout. */
static bool raw_reply(struct xsd_sockmsg *h, char *buf, u32 size)
{
	volatile struct xenstore_domain_interface *s = raw_page();
	u64 deadline = get_system_time() + 5000 * MS;
	while (s->rsp_prod - s->rsp_cons < sizeof(*h) && get_system_time() < deadline)
		sleep_ns(2 * MS);
	if (s->rsp_prod - s->rsp_cons < sizeof(*h))
		return false;
	XENSTORE_RING_IDX c = s->rsp_cons;
	for (u32 i = 0; i < sizeof(*h); i++)
		((char *)h)[i] = s->rsp[MASK_XENSTORE_IDX(c + i)];
	for (u32 i = 0; i < h->len && i < size; i++)
		buf[i] = s->rsp[MASK_XENSTORE_IDX(c + sizeof(*h) + i)];
	s->rsp_cons = c + sizeof(*h) + h->len;
	return true;
}

TEST(test_store_bad_prod, "store-bad-prod", "hostile: req_prod far beyond the ring")
{
	volatile struct xenstore_domain_interface *s = raw_page();
	if (!check_eq(time_init(), 0, "events"))
		return;
	s->req_prod = s->req_cons + 5 * XENSTORE_RING_SIZE;
	evtchn_notify(start_info->store_evtchn);
	sleep_ns(500 * MS);
	check_eq(s->rsp_prod, 0, "no reply comes from a ring that cannot be");
}

TEST(test_store_bad_len, "store-bad-len", "hostile: a message longer than the limit")
{
	volatile struct xenstore_domain_interface *s = raw_page();
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 1, .len = 4096 };
	if (!check_eq(time_init(), 0, "events"))
		return;
	for (u32 i = 0; i < sizeof(h); i++)	/* a header alone, claiming 4096 bytes */
		s->req[MASK_XENSTORE_IDX(s->req_prod + i)] = ((char *)&h)[i];
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->req_prod += sizeof(h);
	evtchn_notify(start_info->store_evtchn);
	sleep_ns(500 * MS);
	check_eq(s->rsp_prod, 0, "no reply to a message over the limit");
}

TEST(test_store_bad_msgs, "store-bad-msgs", "hostile: unknown types, transactions, unterminated paths")
{
	struct xsd_sockmsg h;
	char buf[64] = "";
	if (!check_eq(time_init(), 0, "events"))
		return;
	raw_send(99, 7, 0, "a", 2);
	check(raw_reply(&h, buf, sizeof(buf)) && h.type == XS_ERROR && h.req_id == 7 && !strcmp(buf, "EINVAL"),
	      "an unknown type: XS_ERROR \"EINVAL\" for request 7 (%s)", buf);
	raw_send(XS_READ, 8, 3, "a", 2);
	check(raw_reply(&h, buf, sizeof(buf)) && h.type == XS_ERROR && h.req_id == 8 && !strcmp(buf, "ENOSYS"),
	      "a transaction: XS_ERROR \"ENOSYS\" (%s)", buf);
	raw_send(XS_WRITE, 9, 0, "abc", 3);
	check(raw_reply(&h, buf, sizeof(buf)) && h.type == XS_ERROR && !strcmp(buf, "EINVAL"),
	      "a path without its NUL: XS_ERROR \"EINVAL\" (%s)", buf);
	raw_send(XS_WATCH, 10, 0, "a\0tok", 5);
	check(raw_reply(&h, buf, sizeof(buf)) && h.type == XS_ERROR && !strcmp(buf, "EINVAL"),
	      "a watch token without its NUL: XS_ERROR \"EINVAL\" (%s)", buf);
	raw_send(XS_READ, 11, 0, "", 0);
	check(raw_reply(&h, buf, sizeof(buf)) && h.type == XS_ERROR && !strcmp(buf, "EINVAL"),
	      "an empty payload: XS_ERROR \"EINVAL\" (%s)", buf);
	check_eq(xenbus_init(), 0, "the connection still works: attach");
	check_eq(xenbus_write("after", "ok"), 0, "... and write");
}

TEST(test_store_deaf, "store-deaf", "hostile: never reads its replies while dom0 writes what it watches")
{
	volatile struct xenstore_domain_interface *s = raw_page();
	char cmd[64], buf[16];
	struct xsd_sockmsg h;
	domid_t me = self_id();
	if (!check_eq(xenbus_init(), 0, "attach") || !check_eq(xenbus_watch("deaf"), 0, "watch deaf"))
		return;
	snprintf(cmd, sizeof(cmd), "spam /local/domain/%u/deaf/x", me);
	check_eq(xenbus_write("ask", cmd), 0, "ask dom0 for 100 writes below the watch");
	sleep_ns(3000 * MS);	/* read nothing meanwhile */
	u32 used = s->rsp_prod - s->rsp_cons, n = 0;
	bool whole = used <= XENSTORE_RING_SIZE;
	for (XENSTORE_RING_IDX c = s->rsp_cons; whole && c != s->rsp_prod; c += sizeof(h) + h.len, n++) {
		for (u32 i = 0; i < sizeof(h); i++)
			((char *)&h)[i] = s->rsp[MASK_XENSTORE_IDX(c + i)];
		whole = s->rsp_prod - c >= sizeof(h) + h.len && (h.type == XS_WATCH_EVENT || h.type == XS_WRITE);
	}
	check(whole && n > 1, "dom0 filled the ring with %u whole messages (%u bytes) and no more", n, used);
	check_eq(xenbus_unwatch("deaf"), 0, "read again: unwatch");
	check(xenbus_read("deaf/x", buf, sizeof(buf)) == 2 && !strcmp(buf, "99"), "dom0 did all 100 writes (%s)", buf);
}

TEST(test_store_quota, "store-quota", "hostile: more nodes and watches than its quota")
{
	char p[32], buf[8];
	domid_t me = self_id();
	unsigned nodes = 0, watches = 0;
	long r = 0;
	if (!check_eq(xenbus_init(), 0, "attach") || !check_eq(xenbus_write("ask", ""), 0, "my ask node, first"))
		return;
	for (unsigned i = 0; i < 200 && (r = xenbus_printf((snprintf(p, sizeof(p), "q/%u", i), p), "%u", i)) == 0; i++)
		nodes++;
	check_eq(r, -XEN_ENOSPC, "nodes beyond the quota: -ENOSPC");
	check_eq(nodes, XENSTORE_NODES_QUOTA - 3, "nodes until the quota (my home, ask and q count too)");
	for (unsigned i = 0; i < 20 && (r = xenbus_watch((snprintf(p, sizeof(p), "q/%u", i), p))) == 0; i++)
		watches++;
	check_eq(r, -XEN_ENOSPC, "watches beyond the quota: -ENOSPC");
	check_eq(watches, XENSTORE_WATCHES_QUOTA, "watches until the quota");
	snprintf(p, sizeof(p), "write /local/domain/%u/q/dom0 x", me);
	check(ask_dom0(p), "dom0 writes into my full home (its nodes are its own)");
	check_eq(xenbus_read("q/dom0", buf, sizeof(buf)), 1, "... there it is");
	check_eq(xenbus_rm("q"), 0, "rm them all");
	check_eq(xenbus_write("again", "x"), 0, "room again");
}

TEST(test_store_page_table, "store-page-table", "hostile: makes its store page a page table before dom0 maps it")
{
	void *va = mfn_to_virt(start_info->store_mfn);
	u64 mfn = start_info->store_mfn;
	check_eq(HYPERVISOR_update_va_mapping((u64)va, 0, UVMF_INVLPG), 0, "unmap my store page");
	check_eq(mmuext(MMUEXT_PIN_L1_TABLE, mfn), 0, "pin it as an L1 table");
	if (!check_eq(time_init(), 0, "events"))
		return;
	sleep_ns(3000 * MS);	/* block: dom0 now starts the store and tries to map it */
	check_eq(mmuext(MMUEXT_UNPIN_TABLE, mfn), 0, "unpin it");
}

TEST(test_store_crash, "store-crash", "a domU with nodes and watches crashes")
{
	if (!check_eq(xenbus_init(), 0, "attach") || !check_eq(xenbus_write("a/b/c", "x"), 0, "a node") ||
	    !check_eq(xenbus_watch("a"), 0, "a watch"))
		return;
	struct sched_shutdown sd = { .reason = SHUTDOWN_crash };
	HYPERVISOR_sched_op(SCHEDOP_shutdown, &sd);
}

TEST(test_store_deaf_requests, "store-deaf-requests", "hostile: sends requests and reads no reply")
{
	volatile struct xenstore_domain_interface *s = raw_page();
	struct xsd_sockmsg h;
	char buf[64];
	u32 n = 0, want = 1;
	if (!check_eq(time_init(), 0, "events"))
		return;
	for (u32 id = 1; id <= 30; id++)
		raw_send(XS_READ, id, 0, "none", 5);	/* 21 bytes each: 30 fit the req ring */
	for (int i = 0; i < 500 && s->rsp_prod - s->rsp_cons < sizeof(h); i++)
		sleep_ns(10 * MS);
	sleep_ns(500 * MS);	/* dom0 goes on while it has room: give it time to overfill */
	u32 used = s->rsp_prod - s->rsp_cons;
	bool whole = used <= XENSTORE_RING_SIZE;
	for (XENSTORE_RING_IDX c = s->rsp_cons; whole && c != s->rsp_prod; c += sizeof(h) + h.len, n++) {
		for (u32 i = 0; i < sizeof(h); i++)
			((char *)&h)[i] = s->rsp[MASK_XENSTORE_IDX(c + i)];
		whole = s->rsp_prod - c >= sizeof(h) + h.len && h.req_id == n + 1;
	}
	check(whole && n > 0 && n < 30, "dom0 answered %u requests in order (%u bytes) and held the rest: "
	      "no room for a longest reply", n, used);
	while (want <= 30 && raw_reply(&h, buf, sizeof(buf)) && h.req_id == want && h.type == XS_ERROR)
		want++, evtchn_notify(start_info->store_evtchn);	/* room again: tell dom0 */
	check_eq(want, 31, "reading them, all 30 replies come, in order, each -ENOENT");
}

/* ---------------------------------------------------------------------------------------
 * Lab 7's balloon, driven by the store as in Xen: dom0 writes memory/target (pages) in a
 * domU's home; the domU's balloon driver watches it and moves there.
 */

/* One look at memory/target: balloon there if it changed, and report memory/current. */
static void balloon_follow(u64 *last)
{
	u64 target;
	if (xenbus_read_u64("memory/target", &target) < 0 || target == *last)
		return;
	*last = target;
	balloon_set_target(target);
	xenbus_printf("memory/current", "%lu", balloon_current());
}

/* Wait (serving the watch) until we hold `pages`; false after 10 s. */
static bool balloon_reaches(u64 pages, u64 *last)
{
	char path[XENSTORE_PATH_MAX];
	for (int i = 0; i < 500 && balloon_current() != pages; i++) {
		xenbus_wait_watch(path, sizeof(path), 20 * MS);
		balloon_follow(last);
	}
	return balloon_current() == pages;
}

TEST(test_store_balloon, "store-balloon", "balloon to the memory/target that dom0 writes in the store")
{
	char cmd[96];
	u64 held = balloon_current(), last = 0, v;
	domid_t me = self_id();
	if (!check_eq(xenbus_init(), 0, "attach") || !check_eq(xenbus_watch("memory/target"), 0, "watch memory/target"))
		return;
	snprintf(cmd, sizeof(cmd), "write /local/domain/%u/memory/target %lu", me, held - 300);
	check(ask_dom0(cmd), "dom0 sets my target 300 pages lower");
	bool ok = balloon_reaches(held - 300, &last);
	check(ok, "I hold 300 pages fewer (%lu of %lu)", balloon_current(), held);
	check(xenbus_read_u64("memory/current", &v) == 0 && v == held - 300, "... and say so in memory/current");
	snprintf(cmd, sizeof(cmd), "write /local/domain/%u/memory/target %lu", me, held);
	check(ask_dom0(cmd), "dom0 gives the 300 pages back");
	ok = balloon_reaches(held, &last);
	check(ok, "I hold all my pages again (%lu)", balloon_current());
}
