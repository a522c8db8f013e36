/*
 * Device states for split drivers (Xen's public/io/xenbus.h).                     lab 6
 *
 * Each end of a split driver keeps its state, as a decimal number, in a "state" node of the
 * store: the frontend in /local/domain/<d>/device/<type>/<n>/state, the backend in
 * /local/domain/0/backend/<type>/<d>/<n>/state.  Each side watches the other's node and
 * moves on when the other side has reached the state it waits for:
 *
 *   backend  Initialising -> InitWait (ready for the frontend's ring refs and port)
 *   frontend Initialising -> Initialised (wrote tx-ring-ref, rx-ring-ref, event-channel)
 *   backend  -> Connected (mapped the rings, bound the port);  frontend -> Connected
 *   either   -> Closing -> Closed (the peer unmaps and unbinds before it says Closed)
 */
#ifndef PVLAB_PUBLIC_IO_XENBUS_H
#define PVLAB_PUBLIC_IO_XENBUS_H

enum xenbus_state {
	XenbusStateUnknown = 0,
	XenbusStateInitialising = 1,
	XenbusStateInitWait = 2,	/* backend: waiting for the frontend's details */
	XenbusStateInitialised = 3,	/* frontend: details written, waiting for the backend */
	XenbusStateConnected = 4,
	XenbusStateClosing = 5,
	XenbusStateClosed = 6,
};

#endif
