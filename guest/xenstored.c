/*
 * The store's server (lab 6, given): dom0 keeps a small tree of nodes -- absolute paths
 * such as /local/domain/1/device/vif/0/state, each with a value -- and serves every domU
 * over the byte rings of its store page (public/io/xs_wire.h).  dom0's own calls
 * (guest/xenbus.c) reach xenstored_request() directly.
 *
 * Every domU is a possible attacker, so: each message is copied out of the shared page
 * once before it is looked at (XSA-155); our ring indices are private copies, never read
 * back from the page; a req_prod more than a ring ahead, a message longer than
 * XENSTORE_PAYLOAD_MAX, or a rsp_cons that is not behind our rsp_prod closes that domain's
 * connection (one line, then it is simply not served: nobody else notices); a request is
 * taken only when its longest reply fits in the rsp ring, so a reply never overwrites what
 * the client has not consumed; watch events wait in a queue of CONN_EVENTS per domain and
 * are dropped (counted, one line) past that; each poll serves at most SERVE_BUDGET
 * messages per domain, so no domain holds dom0.  Nodes and watches are counted per domain
 * against the quotas of xs_wire.h.
 *
 * Permissions (pvlab's, simpler than Xen's per-node lists): dom0 reads and writes
 * everything; domU d writes below /local/domain/d (not the node itself) and reads that
 * subtree and /local/domain/0/backend/<type>/d/...; anything else is EACCES.
 */
#include "guest/xenstore.h"

#define MAX_NODES	768		/* the whole tree: 7 domUs at their quota leave dom0 room */
#define MAX_WATCHES	96		/* every domain's: 7 domUs at quota, and dom0's own */
#define MAX_CONNS	8		/* domains (the hypervisor's MAX_DOMAINS) */
#define CONN_EVENTS	16		/* watch events waiting for room in one rsp ring */
#define SERVE_BUDGET	16		/* messages per domain per poll */
#define STORE_MAP_VA	0x7f0600000ULL	/* + domid pages: where each store page is mapped */
#define MS		1000000ULL

struct node {
	bool used;
	domid_t owner;			/* whose quota it counts against */
	u16 len;			/* of value */
	char path[XENSTORE_PATH_MAX];
	char value[XENSTORE_VALUE_MAX];
};
#define NODES_PER_PAGE (PAGE_SIZE / sizeof(struct node))

struct watch {
	bool used;
	domid_t dom;
	char path[XENSTORE_PATH_MAX];	/* absolute, or "@releaseDomain" */
	char token[XENSTORE_TOKEN_MAX];
};
#define WATCHES_PER_PAGE (PAGE_SIZE / sizeof(struct watch))

struct event {
	char path[XENSTORE_PATH_MAX];
	char token[XENSTORE_TOKEN_MAX];
};
STATIC_ASSERT(CONN_EVENTS * sizeof(struct event) <= PAGE_SIZE);

/* One domU's connection. */
struct conn {
	bool live;			/* a domU we know of (until it is released) */
	bool broken;			/* not served: no ring, or it broke the protocol */
	domid_t dom;
	unsigned port;			/* our end of its store channel */
	long handle;			/* of the grant mapping of its page */
	volatile struct xenstore_domain_interface *intf;
	XENSTORE_RING_IDX req_cons, rsp_prod;	/* ours: the page's copies are only written */
	struct event *ev;		/* a page: CONN_EVENTS queued watch events */
	unsigned ev_head, ev_n;
	u64 dropped;
};

static struct node *node_pages[(MAX_NODES + NODES_PER_PAGE - 1) / NODES_PER_PAGE];
static struct watch *watch_pages[(MAX_WATCHES + WATCHES_PER_PAGE - 1) / WATCHES_PER_PAGE];
static struct conn conns[MAX_CONNS];
static bool ready;
static volatile bool pending;		/* an event on a store port since the last poll */
static u64 next_reap;			/* system time of the next look for dead domains */

static struct node *node_at(unsigned i)
{
	return &node_pages[i / NODES_PER_PAGE][i % NODES_PER_PAGE];
}

static struct watch *watch_at(unsigned i)
{
	return &watch_pages[i / WATCHES_PER_PAGE][i % WATCHES_PER_PAGE];
}

/* ---- paths and permissions ---- */

/* Is path equal to prefix, or below it? */
static bool under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return !strncmp(path, prefix, n) && (path[n] == 0 || path[n] == '/');
}

/* Is path well formed: "/" or "/" components of [A-Za-z0-9_.-] separated by one '/'? */
static bool path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	if (p[1] == 0)
		return true;
	for (const char *c = p + 1;; c++) {
		bool word = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			    (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.';
		if (*c == '/' || *c == 0) {
			if (c[-1] == '/')
				return false;	/* an empty component, or a trailing '/' */
			if (*c == 0)
				return true;
		} else if (!word) {
			return false;
		}
	}
}

/* The absolute path of `in` for domain dom (a relative path is below its home) into out
 * (XENSTORE_PATH_MAX).  0, -XEN_E2BIG (too long) or -XEN_EINVAL (malformed). */
static long resolve(domid_t dom, const char *in, char *out)
{
	int n = in[0] == '/' ? (int)strlcpy(out, in, XENSTORE_PATH_MAX)
			     : snprintf(out, XENSTORE_PATH_MAX, "/local/domain/%u/%s", dom, in);
	if (n < 0 || n >= XENSTORE_PATH_MAX)
		return -XEN_E2BIG;
	return path_ok(out) ? 0 : -XEN_EINVAL;
}

static void home_of(domid_t dom, char *out)
{
	snprintf(out, 32, "/local/domain/%u", dom);
}

/* May dom change path (write or remove it)?  dom0 anything; a domU only below its home. */
static bool may_write(domid_t dom, const char *path)
{
	char home[32];
	home_of(dom, home);
	return dom == 0 || (under(path, home) && strcmp(path, home));
}

/* May dom read path?  dom0 anything; a domU its home and its backends' directories,
 * /local/domain/0/backend/<type>/<dom>/... */
static bool may_read(domid_t dom, const char *path)
{
	static const char backends[] = "/local/domain/0/backend/";
	char home[32], id[8];
	home_of(dom, home);
	if (dom == 0 || under(path, home))
		return true;
	if (strncmp(path, backends, sizeof(backends) - 1))
		return false;
	const char *type = path + sizeof(backends) - 1, *slash = strchr(type, '/');
	if (!slash || slash == type)
		return false;
	snprintf(id, sizeof(id), "%u", dom);
	size_t n = strlen(id);
	return !strncmp(slash + 1, id, n) && (slash[1 + n] == 0 || slash[1 + n] == '/');
}

/* ---- watches ---- */

static void conn_queue(struct conn *c, const char *path, const char *token)
{
	if (c->ev_n == CONN_EVENTS) {
		if (c->dropped++ == 0)
			printf("xenstored: d%u does not read its store ring: watch events dropped\n", c->dom);
		return;
	}
	struct event *e = &c->ev[(c->ev_head + c->ev_n++) % CONN_EVENTS];
	strlcpy(e->path, path, sizeof(e->path));
	strlcpy(e->token, token, sizeof(e->token));
}

/* Watch w fires with `path`: dom0's own go to its local queue, a domU's to its ring. */
static void watch_fire(struct watch *w, const char *path)
{
	if (w->dom == 0) {
		xenbus_event_push(path);
		return;
	}
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (conns[i].live && conns[i].dom == w->dom && !conns[i].broken)
			conn_queue(&conns[i], path, w->token);
}

/* Node `path` was written (or removed: `removed`): fire every watch at or above it, and,
 * for a removal, every watch below it (with the watch's own path, which its owner may
 * read). */
static void fire(const char *path, bool removed)
{
	for (unsigned i = 0; i < MAX_WATCHES; i++) {
		struct watch *w = watch_at(i);
		if (!w->used || w->path[0] != '/')
			continue;
		if (under(path, w->path))
			watch_fire(w, path);
		else if (removed && under(w->path, path))
			watch_fire(w, w->path);
	}
}

static void fire_special(const char *name)
{
	for (unsigned i = 0; i < MAX_WATCHES; i++)
		if (watch_at(i)->used && !strcmp(watch_at(i)->path, name))
			watch_fire(watch_at(i), name);
}

static unsigned watches_of(domid_t dom)
{
	unsigned n = 0;
	for (unsigned i = 0; i < MAX_WATCHES; i++)
		n += watch_at(i)->used && watch_at(i)->dom == dom;
	return n;
}

static struct watch *watch_find(domid_t dom, const char *path, const char *token)
{
	for (unsigned i = 0; i < MAX_WATCHES; i++) {
		struct watch *w = watch_at(i);
		if (w->used && w->dom == dom && !strcmp(w->path, path) && !strcmp(w->token, token))
			return w;
	}
	return NULL;
}

/* XS_WATCH: register (dom, path, token) and fire it once now, as Xen does. */
static long watch_add(domid_t dom, const char *path, const char *token)
{
	if (strlen(token) >= XENSTORE_TOKEN_MAX)
		return -XEN_E2BIG;
	if (watch_find(dom, path, token))
		return -XEN_EEXIST;
	if (dom != 0 && watches_of(dom) >= XENSTORE_WATCHES_QUOTA)
		return -XEN_ENOSPC;
	for (unsigned i = 0; i < MAX_WATCHES; i++) {
		struct watch *w = watch_at(i);
		if (w->used)
			continue;
		w->used = true, w->dom = dom;
		strlcpy(w->path, path, sizeof(w->path));
		strlcpy(w->token, token, sizeof(w->token));
		watch_fire(w, path);
		return 0;
	}
	return -XEN_ENOSPC;
}

/* ---- nodes ---- */

static struct node *node_find(const char *path)
{
	for (unsigned i = 0; i < MAX_NODES; i++)
		if (node_at(i)->used && !strcmp(node_at(i)->path, path))
			return node_at(i);
	return NULL;
}

static unsigned nodes_of(domid_t dom, unsigned *free)
{
	unsigned n = 0;
	*free = 0;
	for (unsigned i = 0; i < MAX_NODES; i++) {
		n += node_at(i)->used && node_at(i)->owner == dom;
		*free += !node_at(i)->used;
	}
	return n;
}

/* Create node path (absent) for owner, with an empty value. */
static struct node *node_new(const char *path, domid_t owner)
{
	for (unsigned i = 0; i < MAX_NODES; i++) {
		struct node *n = node_at(i);
		if (!n->used) {
			*n = (struct node){ .used = true, .owner = owner };
			strlcpy(n->path, path, sizeof(n->path));
			return n;
		}
	}
	return NULL;	/* not reached: the caller counted free nodes */
}

/* Write value (len bytes) at path for dom, creating missing parents (owned by dom, within
 * its quota).  0, -XEN_ENOSPC or -XEN_E2BIG. */
static long node_write(domid_t dom, const char *path, const char *value, u32 len)
{
	char p[XENSTORE_PATH_MAX];
	unsigned missing = 0, free;
	if (len > XENSTORE_VALUE_MAX)
		return -XEN_E2BIG;
	strlcpy(p, path, sizeof(p));
	for (char *c = p + 1;; c++) {	/* each ancestor, then the node itself */
		if (*c != '/' && *c != 0)
			continue;
		char end = *c;
		*c = 0;
		missing += !node_find(p);
		*c = end;
		if (!end)
			break;
	}
	unsigned owned = nodes_of(dom, &free);
	if (missing > free || (dom != 0 && owned + missing > XENSTORE_NODES_QUOTA))
		return -XEN_ENOSPC;
	for (char *c = p + 1;; c++) {
		if (*c != '/' && *c != 0)
			continue;
		char end = *c;
		*c = 0;
		if (!node_find(p))
			node_new(p, dom);
		*c = end;
		if (!end)
			break;
	}
	struct node *n = node_find(path);
	memcpy(n->value, value, len);
	n->len = (u16)len;
	fire(path, false);
	return 0;
}

/* Remove path and everything below it.  0 or -XEN_ENOENT. */
static long node_rm(const char *path)
{
	if (!node_find(path))
		return -XEN_ENOENT;
	for (unsigned i = 0; i < MAX_NODES; i++)
		if (node_at(i)->used && under(node_at(i)->path, path))
			node_at(i)->used = false;
	fire(path, true);
	return 0;
}

/* XS_DIRECTORY: the names of path's children, each NUL-terminated, into reply. */
static long node_dir(const char *path, char *reply, u32 *rlen)
{
	size_t plen = strlen(path) == 1 ? 0 : strlen(path);	/* "/" has children "/x" */
	*rlen = 0;
	for (unsigned i = 0; i < MAX_NODES; i++) {
		struct node *n = node_at(i);
		if (!n->used || strncmp(n->path, path, plen) || n->path[plen] != '/' ||
		    !n->path[plen + 1] || strchr(n->path + plen + 1, '/'))
			continue;
		size_t k = strlen(n->path + plen + 1) + 1;
		if (*rlen + k > XENSTORE_PAYLOAD_MAX)
			return -XEN_E2BIG;
		memcpy(reply + *rlen, n->path + plen + 1, k);
		*rlen += (u32)k;
	}
	return 0;
}

/* ---- requests ---- */

/* One request of dom, payload NUL-terminated at payload[len].  0 (reply filled) or error. */
static long request(domid_t dom, u32 type, const char *payload, u32 len, char *reply, u32 *rlen)
{
	char path[XENSTORE_PATH_MAX];
	size_t plen = strnlen(payload, len);
	if (plen == len)
		return -XEN_EINVAL;	/* every request starts with a NUL-terminated path */
	const char *rest = payload + plen + 1;
	u32 rest_len = len - (u32)plen - 1;
	bool special = type == XS_WATCH || type == XS_UNWATCH;
	long r = 0;
	if (special && payload[0] == '@') {
		if (strcmp(payload, "@releaseDomain"))
			return -XEN_EINVAL;
		if (dom != 0)
			return -XEN_EACCES;	/* pvlab: only dom0 learns of other domains */
		strlcpy(path, payload, sizeof(path));
	} else if ((r = resolve(dom, payload, path)) < 0) {
		return r;
	}
	bool writes = type == XS_WRITE || type == XS_RM;
	if (payload[0] != '@' && (writes ? !may_write(dom, path) : !may_read(dom, path)))
		return -XEN_EACCES;
	if (special && strnlen(rest, rest_len) == rest_len)
		return -XEN_EINVAL;	/* the token is NUL-terminated */
	struct node *n;
	struct watch *w;
	*rlen = 3;
	memcpy(reply, "OK", 3);
	switch (type) {
	case XS_READ:
		if (!(n = node_find(path)))
			return -XEN_ENOENT;
		memcpy(reply, n->value, n->len);
		*rlen = n->len;
		return 0;
	case XS_DIRECTORY:
		return node_find(path) ? node_dir(path, reply, rlen) : -XEN_ENOENT;
	case XS_WRITE:
		return node_write(dom, path, rest, rest_len);
	case XS_RM:
		return node_rm(path);
	case XS_WATCH:
		return watch_add(dom, path, rest);
	case XS_UNWATCH:
		if (!(w = watch_find(dom, path, rest)))
			return -XEN_ENOENT;
		w->used = false;
		return 0;
	default:
		return -XEN_EINVAL;
	}
}

u32 xenstored_request(domid_t dom, u32 type, const char *payload, u32 len, char *reply, u32 *rlen)
{
	long r = len > XENSTORE_PAYLOAD_MAX ? -XEN_E2BIG : request(dom, type, payload, len, reply, rlen);
	if (r == 0)
		return type;
	*rlen = (u32)strlcpy(reply, xs_errname(r), XENSTORE_PAYLOAD_MAX) + 1;
	return XS_ERROR;
}

/* ---- the rings ---- */

static void ring_read(const volatile char *ring, XENSTORE_RING_IDX at, void *dst, u32 n)
{
	for (u32 i = 0; i < n; i++)
		((char *)dst)[i] = ring[MASK_XENSTORE_IDX(at + i)];
}

static void ring_write(volatile char *ring, XENSTORE_RING_IDX at, const void *src, u32 n)
{
	for (u32 i = 0; i < n; i++)
		ring[MASK_XENSTORE_IDX(at + i)] = ((const char *)src)[i];
}

/* Stop serving c for good, saying why in one line. */
static void PRINTF(2, 3) conn_break(struct conn *c, const char *fmt, ...)
{
	char why[80];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	printf("xenstored: d%u: %s: its store connection is closed\n", c->dom, why);
	c->broken = true;
}

/* Free bytes in c's rsp ring, or -1 if the client's rsp_cons makes no sense. */
static long rsp_room(struct conn *c)
{
	u32 used = c->rsp_prod - READ_ONCE(c->intf->rsp_cons);
	if (used > XENSTORE_RING_SIZE) {
		conn_break(c, "rsp_cons is %u bytes off", used);
		return -1;
	}
	return XENSTORE_RING_SIZE - used;
}

/* Put one message in c's rsp ring (the caller checked the room). */
static void conn_send(struct conn *c, u32 type, u32 req_id, const void *payload, u32 len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .len = len };
	ring_write(c->intf->rsp, c->rsp_prod, &h, sizeof(h));
	ring_write(c->intf->rsp, c->rsp_prod + sizeof(h), payload, len);
	c->rsp_prod += sizeof(h) + len;
	__atomic_thread_fence(__ATOMIC_RELEASE);	/* the bytes before the index */
	WRITE_ONCE(c->intf->rsp_prod, c->rsp_prod);
}

/* Move queued watch events into c's ring while they fit.  true if any moved. */
static bool conn_flush(struct conn *c)
{
	bool sent = false;
	while (c->ev_n && !c->broken) {
		struct event *e = &c->ev[c->ev_head];
		char buf[XENSTORE_PATH_MAX + XENSTORE_TOKEN_MAX];
		size_t pl = strlen(e->path) + 1, tl = strlen(e->token) + 1;
		long room = rsp_room(c);
		if (room < (long)(sizeof(struct xsd_sockmsg) + pl + tl))
			break;
		memcpy(buf, e->path, pl);
		memcpy(buf + pl, e->token, tl);
		conn_send(c, XS_WATCH_EVENT, 0, buf, (u32)(pl + tl));
		c->ev_head = (c->ev_head + 1) % CONN_EVENTS;
		c->ev_n--;
		sent = true;
	}
	return sent;
}

/* Serve up to SERVE_BUDGET whole messages from c's req ring.  Returns how many. */
static unsigned conn_serve(struct conn *c)
{
	unsigned done = 0;
	bool sent = conn_flush(c);
	while (done < SERVE_BUDGET && !c->broken) {
		struct xsd_sockmsg h;
		static char buf[XENSTORE_PAYLOAD_MAX + 1], reply[XENSTORE_PAYLOAD_MAX];
		u32 avail = READ_ONCE(c->intf->req_prod) - c->req_cons;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);	/* the index before the bytes */
		if (avail > XENSTORE_RING_SIZE) {
			conn_break(c, "req_prod is %u bytes ahead of req_cons", avail);
			break;
		}
		if (avail < sizeof(h))
			break;
		ring_read(c->intf->req, c->req_cons, &h, sizeof(h));
		if (h.len > XENSTORE_PAYLOAD_MAX) {
			conn_break(c, "a message of %u bytes", h.len);
			break;
		}
		if (avail < sizeof(h) + h.len || rsp_room(c) < (long)(sizeof(h) + XENSTORE_PAYLOAD_MAX))
			break;	/* not all there yet, or no room for the longest reply: later */
		ring_read(c->intf->req, c->req_cons + sizeof(h), buf, h.len);	/* once (XSA-155) */
		buf[h.len] = 0;
		c->req_cons += sizeof(h) + h.len;
		WRITE_ONCE(c->intf->req_cons, c->req_cons);
		u32 rlen = 0, type = XS_ERROR;
		if (h.tx_id)
			rlen = (u32)strlcpy(reply, "ENOSYS", sizeof(reply)) + 1;
		else
			type = xenstored_request(c->dom, h.type, buf, h.len, reply, &rlen);
		conn_send(c, type, h.req_id, reply, rlen);
		sent = true;
		done++;
	}
	if (sent && !c->broken)
		evtchn_notify(c->port);
	return done;
}

/* Send every connection's queued watch events that fit, and notify. */
static void flush_all(void)
{
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (conns[i].live && !conns[i].broken && conn_flush(&conns[i]))
			evtchn_notify(conns[i].port);
}

/* ---- domains coming and going ---- */

static long domain_info(domid_t first, struct xen_domctl_getdomaininfo *info)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo,
				 .interface_version = XEN_DOMCTL_INTERFACE_VERSION, .domain = first };
	long r = HYPERVISOR_domctl(&op);
	*info = op.u.getdomaininfo;
	return r;
}

static void store_event(unsigned port UNUSED)
{
	pending = true;
}

/* Map domU info->domain's store page and bind its port; on failure it stays broken. */
static void conn_attach(struct conn *c, const struct xen_domctl_getdomaininfo *info)
{
	u64 va = STORE_MAP_VA + (u64)c->dom * PAGE_SIZE;
	long h = -XEN_EINVAL, p;
	if (!info->store_mfn || !info->store_evtchn || gnttab_prepare_va(va) < 0 ||
	    (h = gnttab_map(c->dom, GNTTAB_RESERVED_XENSTORE, va, false)) < 0) {
		printf("xenstored: d%u: cannot map its store page (%ld): not serving it\n", c->dom, h);
		return;
	}
	if ((p = evtchn_bind_interdomain(c->dom, info->store_evtchn, store_event)) < 0) {
		printf("xenstored: d%u: cannot bind its store port %u (%ld): not serving it\n", c->dom,
		       info->store_evtchn, p);
		gnttab_unmap(va, (grant_handle_t)h);
		return;
	}
	c->handle = h, c->port = (unsigned)p;
	c->intf = (volatile struct xenstore_domain_interface *)va;
	c->broken = false;
}

/* Domain info->domain is new to us: its home, owned by it, and its connection. */
static void conn_add(const struct xen_domctl_getdomaininfo *info)
{
	char home[32];
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];
		if (c->live)
			continue;
		struct event *ev = c->ev ? c->ev : alloc_page();
		*c = (struct conn){ .live = true, .broken = true, .dom = info->domain, .ev = ev };
		home_of(c->dom, home);
		node_write(c->dom, home, "", 0);
		conn_attach(c, info);
		return;
	}
}

/* Domain c->dom is gone: unmap, unbind, forget its watches and nodes, tell dom0. */
static void conn_release(struct conn *c)
{
	char home[32];
	if (c->intf) {
		evtchn_unbind(c->port);
		gnttab_unmap(STORE_MAP_VA + (u64)c->dom * PAGE_SIZE, (grant_handle_t)c->handle);
	}
	c->live = false;
	c->intf = NULL;
	for (unsigned i = 0; i < MAX_WATCHES; i++)
		if (watch_at(i)->dom == c->dom)
			watch_at(i)->used = false;
	home_of(c->dom, home);
	node_rm(home);
	fire_special("@releaseDomain");
}

/* Release every connection whose domain is dying or gone. */
static void reap(void)
{
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct xen_domctl_getdomaininfo info;
		struct conn *c = &conns[i];
		if (!c->live)
			continue;
		if (domain_info(c->dom, &info) < 0 || info.domain != c->dom || (info.flags & XEN_DOMINF_dying))
			conn_release(c);
	}
}

long xenstored_init(void)
{
	struct xen_domctl_getdomaininfo info;
	long r;
	if (ready)
		return 0;
	if ((!shared_info && (r = time_init()) < 0) || (!gnttab && (r = gnttab_init()) < 0))
		return r;	/* events and grant maps: lab 3's and lab 5's setup, if not done yet */
	for (unsigned i = 0; i < ARRAY_SIZE(node_pages); i++)
		if (!node_pages[i] && !(node_pages[i] = alloc_page_try()))
			return -XEN_ENOMEM;
	for (unsigned i = 0; i < ARRAY_SIZE(watch_pages); i++)
		if (!watch_pages[i] && !(watch_pages[i] = alloc_page_try()))
			return -XEN_ENOMEM;
	node_write(0, "/local/domain/0", "", 0);
	for (long d = 1; d < DOMID_FIRST_RESERVED && domain_info((domid_t)d, &info) == 0; d = info.domain + 1)
		if (!(info.flags & XEN_DOMINF_dying))
			conn_add(&info);
	ready = true;
	return 0;
}

unsigned xenstored_poll(void)
{
	unsigned n = 0;
	if (!ready)
		return 0;
	pending = false;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (conns[i].live && !conns[i].broken)
			n += conn_serve(&conns[i]);
	if (get_system_time() >= next_reap) {
		next_reap = get_system_time() + 10 * MS;
		reap();
	}
	flush_all();
	return n;
}

bool xenstored_pending(void)
{
	return pending;
}

/* dom0's own calls: run them here, then send the watch events they caused. */
u32 xenstored_local(u32 type, const char *payload, u32 len, char *reply, u32 *rlen)
{
	if (!ready) {
		*rlen = (u32)strlcpy(reply, "EIO", XENSTORE_PAYLOAD_MAX) + 1;
		return XS_ERROR;
	}
	u32 t = xenstored_request(0, type, payload, len, reply, rlen);
	flush_all();
	return t;
}
