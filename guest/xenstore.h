/*
 * Between the store's client (xenbus.c) and its server (xenstored.c, dom0 only): not an
 * API for drivers -- those use the xenbus_* calls of guest/kernel.h.            lab 6
 */
#ifndef PVLAB_GUEST_XENSTORE_H
#define PVLAB_GUEST_XENSTORE_H

#include "guest/kernel.h"
#include "public/io/xs_wire.h"

/* xenstored.c: run one request of domain `dom` (type XS_*, payload of len bytes); the
 * reply's payload goes to reply (XENSTORE_PAYLOAD_MAX bytes), its length to *rlen.
 * Returns the reply's type: the request's, or XS_ERROR with an errno name as payload. */
u32 xenstored_request(domid_t dom, u32 type, const char *payload, u32 len, char *reply, u32 *rlen);

/* xenstored.c: dom0's own request (xenstored_request for dom 0, then the watch events it
 * caused are sent); XS_ERROR "EIO" before xenstored_init() */
u32 xenstored_local(u32 type, const char *payload, u32 len, char *reply, u32 *rlen);

/* xenbus.c: a watch of ours fired (dom0's own watches: called by xenstored.c) */
void xenbus_event_push(const char *path);

/* Errno names on the wire (XS_ERROR), both ways; -XEN_EIO for a name we do not know. */
const char *xs_errname(long err);
long xs_errnum(const char *name);

#endif
