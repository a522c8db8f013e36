/*
 * Shared-memory rings for split drivers (the semantics of Xen's public/io/ring.h, in this
 * project's own code).  Not included by public/xen.h: a driver includes it.       lab 6
 *
 * A ring is one shared page: a header of four free-running 32-bit indices, then a
 * power-of-two array of slots, each holding a request or (later, in the same slot) its
 * response.  The frontend produces requests and consumes responses; the backend consumes
 * requests and produces responses.
 *
 *	shared page:  req_prod  req_event  rsp_prod  rsp_event  pad  slot[0..size-1]
 *	frontend (private):  req_prod_pvt  rsp_cons
 *	backend  (private):  rsp_prod_pvt  req_cons
 *
 * Indices only ever grow and wrap at 2^32; a slot is index & (size - 1), and every
 * comparison is a difference of two indices as u32 ("how far is b ahead of a"), so the
 * wrap needs no special case.  req_prod and rsp_prod are written only by their producer;
 * req_event and rsp_event only by the consumer, to say "notify me when the producer passes
 * this index".  The producer writes slots first, then (after a write barrier) publishes
 * its private index in the shared one; it sends an event only if the peer's event index
 * lies in (old, new] -- the peer asked to be told about one of the entries just published.
 * A consumer about to sleep sets its event index to "one past what I consumed" and then
 * looks once more (the final check): an entry published before the peer could see the new
 * event index would otherwise be left without a notification.
 *
 * The backend treats the page as hostile: it copies each request out once
 * (RING_COPY_REQUEST, never re-reading the shared slot: XSA-155) and bounds the frontend's
 * req_prod by the ring size (RING_REQUEST_PROD_OVERFLOW) before consuming anything.
 *
 * DEFINE_RING_TYPES(name, req_t, rsp_t) declares
 *	union name_sring_entry  { req_t req; rsp_t rsp; };
 *	struct name_sring       the shared page
 *	struct name_front_ring  the frontend's private view
 *	struct name_back_ring   the backend's private view
 */
#ifndef PVLAB_PUBLIC_IO_RING_H
#define PVLAB_PUBLIC_IO_RING_H

#include "types.h"
#include "solution.h"

typedef u32 RING_IDX;

#define RING_HDR_BYTES 64	/* four indices and padding: the slots start at byte 64 */

/* Barriers.  x86 keeps stores in order and loads in order, so a producer's "slots, then
 * index" and a consumer's "index, then slots" need only stop the compiler; publishing an
 * index and then reading the peer's event index is a store followed by a load, which x86
 * may reorder, so that needs a real fence. */
static inline void ring_wmb(void) { barrier(); }
static inline void ring_rmb(void) { barrier(); }
static inline void ring_mb(void) { __asm__ __volatile__("mfence" ::: "memory"); }

void lab_todo(const char *notice);	/* the guest's: what the lab 6 stubs below call */

/* The number of slots of entry_size bytes that fit in page_size bytes after the header,
 * rounded down to a power of two (so that index & (size - 1) is the slot); 0 if none. */
static inline unsigned ring_size_for(unsigned page_size, unsigned entry_size)
{
	unsigned n = page_size > RING_HDR_BYTES && entry_size ? (page_size - RING_HDR_BYTES) / entry_size : 0;
	unsigned p = 1;
	if (n == 0)
		return 0;
	while (p <= n / 2)
		p *= 2;
	return p;
}

/* Whether a producer that moved its index from old to new must notify a consumer whose
 * event index is event: event in (old, new], in u32 arithmetic (so across the wrap). */
static inline bool ring_notify_window(RING_IDX old, RING_IDX new, RING_IDX event)
{
#if SOLUTION(6)
	return (RING_IDX)(new - event) < (RING_IDX)(new - old);
#else // SOLUTION(6)
	/* Lab 6: true when event lies in (old, new], counting modulo 2^32. */
	(void)old, (void)new, (void)event;
	lab_todo("lab 6: ring_notify_window not implemented");
	return true;
#endif // SOLUTION(6)
}

/* Publish pvt as the shared producer index *prod, after the slots it covers are written;
 * whether the consumer must be notified (its event index *event in (old, pvt]). */
static inline bool ring_push(volatile RING_IDX *prod, volatile RING_IDX *event, RING_IDX pvt)
{
#if SOLUTION(6)
	RING_IDX old = *prod;
	ring_wmb();		/* the consumer sees the slots before the index that covers them */
	*prod = pvt;
	ring_mb();		/* the index is visible before we read the consumer's event index */
	return ring_notify_window(old, pvt, *event);
#else // SOLUTION(6)
	/* Lab 6: barrier, publish pvt in *prod, full barrier, then ring_notify_window()
	 * against *event. */
	(void)prod, (void)event, (void)pvt;
	lab_todo("lab 6: ring_push not implemented");
	return true;
#endif // SOLUTION(6)
}

/* The number of entries a consumer at cons has not consumed yet, given the producer's
 * shared index *prod and at most limit of them (the backend's bound; ~0u for none).  On
 * a nonzero answer the caller may read that many slots (the read barrier is done). */
static inline RING_IDX ring_unconsumed(volatile RING_IDX *prod, RING_IDX cons, RING_IDX limit)
{
#if SOLUTION(6)
	RING_IDX n = *prod - cons;
	ring_rmb();		/* slots are read only after the index that covers them */
	return n < limit ? n : limit;
#else // SOLUTION(6)
	/* Lab 6: *prod - cons (modulo 2^32), at most limit, then a read barrier. */
	(void)prod, (void)cons, (void)limit;
	lab_todo("lab 6: ring_unconsumed not implemented");
	return 0;
#endif // SOLUTION(6)
}

/* A consumer at cons about to sleep: the number of unconsumed entries (at most limit).
 * When there are none it first asks to be notified of the next one (*event = cons + 1)
 * and then looks again, so that an entry published meanwhile is not missed. */
static inline RING_IDX ring_final_check(volatile RING_IDX *prod, volatile RING_IDX *event,
					RING_IDX cons, RING_IDX limit)
{
#if SOLUTION(6)
	RING_IDX n = ring_unconsumed(prod, cons, limit);
	if (n)
		return n;
	*event = cons + 1;
	ring_mb();		/* the event index is visible before we look at *prod again */
	return ring_unconsumed(prod, cons, limit);
#else // SOLUTION(6)
	/* Lab 6: if nothing is unconsumed, set *event to cons + 1, full barrier, look again. */
	(void)prod, (void)event, (void)cons, (void)limit;
	lab_todo("lab 6: ring_final_check not implemented");
	return 0;
#endif // SOLUTION(6)
}

#define DEFINE_RING_TYPES(name, req_t, rsp_t)                                           \
	union name##_sring_entry {                                                      \
		req_t req;                                                              \
		rsp_t rsp;                                                              \
	};                                                                              \
	struct name##_sring {                                                           \
		RING_IDX req_prod, req_event;	/* frontend writes / backend writes */  \
		RING_IDX rsp_prod, rsp_event;	/* backend writes / frontend writes */  \
		u8 pad[RING_HDR_BYTES - 4 * sizeof(RING_IDX)];                          \
		union name##_sring_entry ring[];                                        \
	};                                                                              \
	struct name##_front_ring {                                                      \
		RING_IDX req_prod_pvt;	/* next request slot to fill */                 \
		RING_IDX rsp_cons;	/* next response to consume */                  \
		unsigned nr_ents;                                                       \
		struct name##_sring *sring;                                             \
	};                                                                              \
	struct name##_back_ring {                                                       \
		RING_IDX rsp_prod_pvt;	/* next response slot to fill */                \
		RING_IDX req_cons;	/* next request to consume */                   \
		unsigned nr_ents;                                                       \
		struct name##_sring *sring;                                             \
	}

/* Slots of a shared ring s in a page of size bytes. */
#define RING_SIZE_OF(s, size) ring_size_for((size), sizeof((s)->ring[0]))

/* The frontend initialises the shared page: every index at start (0, or near 2^32 to test
 * the wrap), each event index one past it (notify me of the first entry). */
#define SHARED_RING_INIT_AT(s, start)                                                   \
	do {                                                                            \
		(s)->req_prod = (s)->rsp_prod = (start);                                \
		(s)->req_event = (s)->rsp_event = (start) + 1;                          \
		for (unsigned i_ = 0; i_ < sizeof((s)->pad); i_++)                      \
			(s)->pad[i_] = 0;                                               \
	} while (0)
#define SHARED_RING_INIT(s) SHARED_RING_INIT_AT(s, 0)

/* A private view of shared ring s (size bytes) that takes up the indices where they are.
 * The backend starts after its own last response, not at req_prod: requests the frontend
 * pushed before the backend attached are still to be served. */
#define FRONT_RING_ATTACH(r, s, size)                                                   \
	do {                                                                            \
		(r)->req_prod_pvt = (s)->req_prod;                                      \
		(r)->rsp_cons = (s)->rsp_prod;                                          \
		(r)->nr_ents = RING_SIZE_OF(s, size);                                   \
		(r)->sring = (s);                                                       \
	} while (0)
#define BACK_RING_ATTACH(r, s, size)                                                    \
	do {                                                                            \
		(r)->rsp_prod_pvt = (s)->rsp_prod;                                      \
		(r)->req_cons = (s)->rsp_prod;                                          \
		(r)->nr_ents = RING_SIZE_OF(s, size);                                   \
		(r)->sring = (s);                                                       \
	} while (0)

#define RING_SIZE(r) ((r)->nr_ents)
#define RING_SLOT(r, idx) (&(r)->sring->ring[(idx) & (RING_SIZE(r) - 1)])
#define RING_GET_REQUEST(r, idx) (&RING_SLOT(r, idx)->req)
#define RING_GET_RESPONSE(r, idx) (&RING_SLOT(r, idx)->rsp)

/* Frontend: requests it may still produce (slots not holding an unconsumed response). */
#define RING_FREE_REQUESTS(r) (RING_SIZE(r) - ((r)->req_prod_pvt - (r)->rsp_cons))
#define RING_FULL(r) (RING_FREE_REQUESTS(r) == 0)

/* Frontend: responses published and not consumed yet. */
#define RING_HAS_UNCONSUMED_RESPONSES(r) \
	ring_unconsumed(&(r)->sring->rsp_prod, (r)->rsp_cons, ~0u)

/* Backend: requests published and not consumed yet, never more than the slots whose
 * responses are out (a frontend cannot make the backend overwrite responses). */
#define RING_HAS_UNCONSUMED_REQUESTS(r) \
	ring_unconsumed(&(r)->sring->req_prod, (r)->req_cons, \
			RING_SIZE(r) - ((r)->req_cons - (r)->rsp_prod_pvt))

/* Backend: whether a frontend's req_prod claims more outstanding requests than the ring
 * holds (a hostile or broken frontend: stop serving it). */
#define RING_REQUEST_PROD_OVERFLOW(r, prod) \
	((RING_IDX)((prod) - (r)->rsp_prod_pvt) > RING_SIZE(r))

/* Backend: whether consuming the request at cons would overrun the responses. */
#define RING_REQUEST_CONS_OVERFLOW(r, cons) \
	((RING_IDX)((cons) - (r)->rsp_prod_pvt) >= RING_SIZE(r))

/* Backend: copy request idx into *dst once; use only the copy afterwards (the frontend
 * can rewrite the shared slot at any time). */
#define RING_COPY_REQUEST(r, idx, dst)                                                  \
	do {                                                                            \
		*(dst) = *(volatile __typeof__(*(dst)) *)RING_GET_REQUEST(r, idx);      \
		barrier();                                                              \
	} while (0)

#define RING_PUSH_REQUESTS(r) ((void)ring_push(&(r)->sring->req_prod, &(r)->sring->req_event, (r)->req_prod_pvt))
#define RING_PUSH_RESPONSES(r) ((void)ring_push(&(r)->sring->rsp_prod, &(r)->sring->rsp_event, (r)->rsp_prod_pvt))

/* Publish, and set notify to whether the peer must be sent an event. */
#define RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(r, notify) \
	((notify) = ring_push(&(r)->sring->req_prod, &(r)->sring->req_event, (r)->req_prod_pvt))
#define RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r, notify) \
	((notify) = ring_push(&(r)->sring->rsp_prod, &(r)->sring->rsp_event, (r)->rsp_prod_pvt))

/* Before sleeping: set work to the number of entries left (asking for an event if none). */
#define RING_FINAL_CHECK_FOR_REQUESTS(r, work)                                          \
	((work) = ring_final_check(&(r)->sring->req_prod, &(r)->sring->req_event,       \
				   (r)->req_cons,                                       \
				   RING_SIZE(r) - ((r)->req_cons - (r)->rsp_prod_pvt)))
#define RING_FINAL_CHECK_FOR_RESPONSES(r, work)                                         \
	((work) = ring_final_check(&(r)->sring->rsp_prod, &(r)->sring->rsp_event,       \
				   (r)->rsp_cons, ~0u))

#endif
