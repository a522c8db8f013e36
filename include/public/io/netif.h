/*
 * The PV network device (vif): what netfront (in a domU) and netback (in dom0) put on their
 * two rings.  The layout of Xen's public/io/netif.h, cut down to what pvlab uses.    lab 6
 *
 *   tx ring (frontend -> backend): each request names a frame the frontend wants sent, in a
 *	page it granted to the backend read-only; the backend copies the frame out with
 *	GNTTABOP_copy and answers with the request's id and a status.
 *   rx ring (frontend -> backend, then back): each request posts an empty page the frontend
 *	granted writable; when a frame for the frontend arrives, the backend copies it into
 *	the next posted page and answers with the page's id and the frame's size.
 *
 * One event channel serves both rings.  The store (io/xs_wire.h) carries the handshake:
 *
 *   frontend /local/domain/<d>/device/vif/0/   backend /local/domain/0/backend/vif/<d>/0/
 *	backend      path of the backend dir        frontend     path of the frontend dir
 *	backend-id   "0"                            frontend-id  "<d>"
 *	tx-ring-ref  grant ref of the tx ring page  state        XenbusState (io/xenbus.h)
 *	rx-ring-ref  grant ref of the rx ring page
 *	event-channel  the frontend's unbound port
 *	state        XenbusState
 *
 * Frames are pvlab's own little link layer: a struct pvnet_hdr, then the payload.  The
 * backend bridges: it reads dst out of its own copy of the header and hands the frame to
 * that domain's rx ring (dst 0: dom0 itself).
 */
#ifndef PVLAB_PUBLIC_IO_NETIF_H
#define PVLAB_PUBLIC_IO_NETIF_H

#include "public/io/ring.h"
#include "public/xen.h"		/* grant_ref_t (grant_table.h) */

#define NETIF_MAX_FRAME	4096	/* a frame never crosses its page: offset + size <= 4096 */

/* tx request: IN to the backend.  Every field comes from the frontend's shared page: the
 * backend copies the request once and checks gref (by the copy's status), offset + size
 * within the page and size >= sizeof(struct pvnet_hdr). */
struct netif_tx_request {
	grant_ref_t gref;	/* the page holding the frame (granted read-only is enough) */
	u16 offset;		/* where in the page the frame starts */
	u16 flags;		/* none defined: must be 0 */
	u16 id;			/* echoed in the response */
	u16 size;		/* bytes of frame */
};
/* tx response: status */
#define NETIF_RSP_DROPPED	-2	/* not delivered: no such destination, or it gave up */
#define NETIF_RSP_ERROR		-1	/* a bad request: gref, offset/size, flags */
#define NETIF_RSP_OKAY		0
struct netif_tx_response {
	u16 id;
	s16 status;		/* NETIF_RSP_* */
};

/* rx request: an empty page the frontend posts (granted writable). */
struct netif_rx_request {
	u16 id;
	u16 pad;
	grant_ref_t gref;
};
/* rx response: the frame is in the posted page at offset; status > 0 is its size, < 0 a
 * NETIF_RSP_* error (the page is the frontend's again either way). */
struct netif_rx_response {
	u16 id;
	u16 offset;
	u16 flags;
	s16 status;
};
STATIC_ASSERT(sizeof(struct netif_tx_request) == 12);
STATIC_ASSERT(sizeof(struct netif_tx_response) == 4);
STATIC_ASSERT(sizeof(struct netif_rx_request) == 8);
STATIC_ASSERT(sizeof(struct netif_rx_response) == 8);

DEFINE_RING_TYPES(netif_tx, struct netif_tx_request, struct netif_tx_response);
DEFINE_RING_TYPES(netif_rx, struct netif_rx_request, struct netif_rx_response);

/* pvlab's link layer: every frame starts with this header.  seq and csum let the tests
 * prove that nothing was lost, duplicated, reordered or corrupted on the way. */
struct pvnet_hdr {
	u16 dst;		/* destination domid (0: dom0) */
	u16 src;		/* sender's domid: the backend overwrites it with the truth */
	u32 seq;		/* per (src, dst) stream */
	u32 len;		/* bytes of frame, header included */
	u32 csum;		/* of the payload (the tests' frame_sum) */
};
STATIC_ASSERT(sizeof(struct pvnet_hdr) == 16);

#endif
