/*
 * The PV network device's guest API (lab 6): netfront (domU) and netback (dom0).  Not in
 * kernel.h: it pulls in public/io/ring.h, the lab's student header, and only the files that
 * drive a vif should recompile when that changes.
 */
#ifndef PVLAB_GUEST_NET_H
#define PVLAB_GUEST_NET_H

#include "guest/kernel.h"
#include "public/io/netif.h"

/* netfront.c, netback.c (lab 6): the PV network device, include/public/io/netif.h.
 * Every call returns 0 (or a count) or a negative -XEN_Exxx. */
#define NETFRONT_BUFS 64			/* tx buffers and posted rx buffers, a page each */
#define NETFRONT_DIR "device/vif/0/"		/* our device's store dir (relative: our home) */
struct netfront {
	struct netif_tx_front_ring tx;
	struct netif_rx_front_ring rx;
	long tx_ref, rx_ref;			/* grants of the two ring pages */
	unsigned port;
	domid_t backend_id;
	char backend[64], backend_state[72];	/* the backend's store dir, its state node */
	u8 *tx_buf[NETFRONT_BUFS], *rx_buf[NETFRONT_BUFS];
	grant_ref_t tx_gref[NETFRONT_BUFS], rx_gref[NETFRONT_BUFS];
	bool tx_busy[NETFRONT_BUFS];
	u16 tx_next_free[NETFRONT_BUFS], tx_free;
	u64 tx_frames, tx_done, tx_errors, tx_dropped, rx_frames, events_sent, sleeps;
	volatile u64 events_got;
};
long netfront_connect(struct netfront *nf, RING_IDX start);	/* the handshake; indices at start */
long netfront_queue(struct netfront *nf, const void *frame, u32 len);	/* -XEN_EAGAIN: full */
void netfront_push(struct netfront *nf);	/* publish what was queued; notify if asked to */
long netfront_send(struct netfront *nf, const void *frame, u32 len);	/* queue + push */
void netfront_reap(struct netfront *nf);	/* take tx responses: free buffers, count errors */
long netfront_recv(struct netfront *nf, void *buf, u32 max);	/* a frame's size, or 0: none */
long netfront_wait(struct netfront *nf, u64 timeout_ns);	/* sleep until a ring has news */
long netfront_wait_tx(struct netfront *nf, u64 timeout_ns);	/* ... the tx ring only */
long netfront_close(struct netfront *nf);	/* Closing, wait for the backend, end grants */
/* Probe dst (a frame with seq PVNET_PROBE_SEQ) until the backend delivers one: 0 once dst's
 * vif is connected; -XEN_ETIMEDOUT, or -XEN_EIO if the backend does not answer a probe
 * (within 2 s) or refuses it.  Receivers skip probes. */
#define PVNET_PROBE_SEQ 0xffffffffu
long netfront_wait_peer(struct netfront *nf, domid_t dst, u64 timeout_ns);
extern bool netfront_notify_always, netback_notify_always;	/* bench: no suppression */
long xenbus_wait_state(const char *path, unsigned mask, u64 timeout_ns);	/* a state in mask */
u32 pvnet_sum(const u8 *data, u32 len, u32 seq);
void pvnet_build(u8 *buf, domid_t dst, domid_t src, u32 seq, u32 len);
bool pvnet_intact(const u8 *buf, u32 len);
/* dom0 */
#define NETBACK_MAX_VIFS 8			/* one vif per domain id 1..7 */
struct vif_stats {
	u64 tx_frames, tx_errors, rx_frames, rx_errors, events_sent;
	u64 dropped;	/* frames it sent that had no destination, and frames for it that
			 * waited too long for a buffer or were queued when it went away */
	u64 connects, closes, failed;
	u64 copy_errors;			/* tx copies the hypervisor refused (bad grefs) */
};
extern struct netback_local { u64 frames, bad; } netback_local;	/* frames sent to dom0 */
long netback_init(void);			/* bounce pages, room to map rings */
long netback_add_vif(domid_t d);		/* the toolstack's nodes; InitWait */
long netback_serve(bool (*done)(void), u64 idle_ns);	/* serve store + vifs until done() */
const struct vif_stats *netback_stats(domid_t d);
unsigned netback_state(domid_t d);		/* our XenbusState for d's vif */

#endif
