/*
 * The store's wire format (Xen's public/io/xs_wire.h, in this project's own code).  Not
 * included by public/xen.h: the store's client and server include it.             lab 6
 *
 * Every unprivileged domain has one store page (its MACHINE frame is start_info.store_mfn,
 * the page lies in its memory right after start_info) and one event channel to dom0
 * (start_info.store_evtchn).  dom0 is the store (guest/xenstored.c): it maps the page
 * through grant ref GNTTAB_RESERVED_XENSTORE, which the domain builder fills, and binds the
 * port.  The page holds two byte rings with free-running u32 indices, as Xen's:
 *
 *	req[1024]  messages domU -> dom0   written by the domU, req_prod after the bytes
 *	rsp[1024]  messages dom0 -> domU   written by dom0, rsp_prod after the bytes
 *	req_cons   (dom0)  req_prod (domU)  rsp_cons (domU)  rsp_prod (dom0)
 *
 * Byte i of a stream is at ring[MASK_XENSTORE_IDX(i)]; a producer never lets prod - cons
 * exceed XENSTORE_RING_SIZE, and notifies the peer's port after publishing.  A message is a
 * struct xsd_sockmsg followed by `len` payload bytes; it may wrap around the ring's end.
 * The reader copies each message out of the shared page once before looking at it
 * (XSA-155) and treats prod - cons > XENSTORE_RING_SIZE as a broken peer.
 *
 * Payloads (strings are NUL-terminated inside the payload):
 *	XS_READ       IN path                   OUT the value (no NUL added: len says it all)
 *	XS_WRITE      IN path, then value bytes  OUT "OK"
 *	XS_DIRECTORY  IN path                   OUT each child's name, NUL-terminated
 *	XS_RM         IN path                   OUT "OK"  (the node and everything below it)
 *	XS_WATCH      IN path, token            OUT "OK"; fires once at once, then on changes
 *	XS_UNWATCH    IN path, token            OUT "OK"
 *	XS_WATCH_EVENT  (dom0 -> domU, unasked; req_id 0)  path that changed, token
 *	XS_ERROR      OUT an errno name, NUL-terminated: "ENOENT", "EACCES", "EINVAL",
 *	              "E2BIG", "ENOSPC", "EEXIST", "ENOSYS" (the reply to any failed request)
 * A reply carries the request's type (or XS_ERROR) and req_id; tx_id must be 0 (pvlab has
 * no transactions: XS_ERROR "ENOSYS").  Watch events carry absolute paths.
 *
 * pvlab's limits are below the message types.  The server (dom0) closes a domU's connection
 * -- stops serving it, one line on its console -- for a req_prod more than the ring ahead of
 * req_cons, a message over XENSTORE_PAYLOAD_MAX, or a rsp_cons not behind rsp_prod; it takes
 * a request only when its longest reply fits in the rsp ring, so a reply never overwrites
 * bytes the client has not consumed; and it queues up to 16 watch events per domU waiting
 * for room, dropping the rest.  Permissions and paths: docs/ABI.md, "The store".
 */
#ifndef PVLAB_PUBLIC_IO_XS_WIRE_H
#define PVLAB_PUBLIC_IO_XS_WIRE_H

#include "types.h"

#define XS_DIRECTORY	1
#define XS_READ		2
#define XS_WATCH	4
#define XS_UNWATCH	5
#define XS_WRITE	11
#define XS_RM		13
#define XS_WATCH_EVENT	15
#define XS_ERROR	16

struct xsd_sockmsg {
	u32 type;	/* XS_* */
	u32 req_id;	/* chosen by the client, echoed in the reply */
	u32 tx_id;	/* 0: pvlab has no transactions */
	u32 len;	/* payload bytes after this header: at most XENSTORE_PAYLOAD_MAX */
};

#define XENSTORE_RING_SIZE	1024
#define MASK_XENSTORE_IDX(idx)	((idx) & (XENSTORE_RING_SIZE - 1))
typedef u32 XENSTORE_RING_IDX;

struct xenstore_domain_interface {
	char req[XENSTORE_RING_SIZE];	/* requests to dom0 */
	char rsp[XENSTORE_RING_SIZE];	/* replies and watch events to the domU */
	XENSTORE_RING_IDX req_cons, req_prod;
	XENSTORE_RING_IDX rsp_cons, rsp_prod;
};
STATIC_ASSERT(sizeof(struct xenstore_domain_interface) == 2 * XENSTORE_RING_SIZE + 16);

/* pvlab's limits (Xen's are larger; these keep dom0's tables static). */
#define XENSTORE_PAYLOAD_MAX	512	/* payload bytes of one message ("E2BIG" past it) */
#define XENSTORE_PATH_MAX	128	/* bytes of an absolute path, NUL included ("E2BIG") */
#define XENSTORE_VALUE_MAX	256	/* bytes of a value ("E2BIG") */
#define XENSTORE_NODES_QUOTA	64	/* nodes a domU may own ("ENOSPC") */
#define XENSTORE_WATCHES_QUOTA	8	/* watches a domU may hold ("ENOSPC") */
#define XENSTORE_TOKEN_MAX	128	/* bytes of a watch token, NUL included ("E2BIG") */

#endif
