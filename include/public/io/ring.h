/*
 * Shared-memory rings for split drivers (Xen's public/io/ring.h).  Not included by
 * public/xen.h: a driver includes it.  Lab 6 fills this header: the ring macros
 * (producer and consumer indices, request/response event indices, the final check).
 */
