/*
 * emunic: the emulated twin of the PV network device (lab 6).  The same job as netfront /
 * netback -- move frames between domains -- done the way a fully virtualized guest drives
 * real hardware: a block of I/O ports, each access a VM exit that the hypervisor emulates
 * (hv/emunic.c), the data moving 4 bytes per exit.  It exists to be measured against the
 * PV split driver (`make bench`, "lab 6: PV ring vs emulated NIC"); nothing else needs it.
 *
 * Every register is 32 bits wide and is reached only with a 32-bit IN or OUT (inl/outl)
 * at its own port.  Anything else in the window -- a byte or word access, a port that is
 * not a register's first, a read of a write-only register or a write of a read-only one,
 * string I/O (INS/OUTS, with or without REP: refused rather than emulated, since a real
 * driver of this device never needs it) -- raises #GP in the guest and changes nothing.
 *
 * Receiving: frames sent to a domain wait in its receive queue (EMUNIC_RX_SLOTS frames, in
 * the order they were sent).  There is no interrupt: the receiver polls RX_LEN (yielding
 * with SCHEDOP_yield while it reads 0), as a driver of a device without an IRQ line would.
 * A full queue never blocks a sender: the send is dropped, counted and reported in STATUS.
 * A domain's queue and its unsent frame vanish with it; frames it sent before it died stay
 * queued at their receivers.
 */
#ifndef PVLAB_PUBLIC_IO_EMUNIC_H
#define PVLAB_PUBLIC_IO_EMUNIC_H

#define EMUNIC_PORT_BASE	0xc000	/* nothing else in pvlab uses ports 0xc000-0xc027 */
#define EMUNIC_FRAME_MAX	4096	/* bytes in a frame: 1 .. EMUNIC_FRAME_MAX */
#define EMUNIC_RX_SLOTS		16	/* frames a receive queue holds */

/* Registers: port = EMUNIC_PORT_BASE + offset.  W = OUT only, R = IN only. */
#define EMUNIC_TX_LEN	0x00	/* W: start a new frame of this many bytes (1..4096),
				 * discarding any unsent one.  Out of range: no frame is
				 * started and STATUS.TX_BADLEN is set */
#define EMUNIC_TX_DATA	0x04	/* W: the frame's next 4 bytes (little-endian; bytes past
				 * the length in the last word are ignored).  Past the
				 * announced length, or with no frame started: ignored,
				 * STATUS.TX_OVERRUN set */
#define EMUNIC_TX_SEND	0x08	/* W: a domid: queue the frame at that domain (itself
				 * included).  The outcome replaces STATUS's TX_OK / TX_FULL /
				 * TX_NODOM / TX_BADLEN bits.  Queued: the frame is gone
				 * (TX_OK).  Not queued: the frame stays, so the driver can
				 * write TX_SEND again without rewriting it */
#define EMUNIC_RX_LEN	0x0c	/* R: length of the frame at the head of our receive queue;
				 * 0 = the queue is empty */
#define EMUNIC_RX_DATA	0x10	/* R: the head frame's next 4 bytes (bytes past its length
				 * read 0).  Past the end of the frame, or with an empty
				 * queue: reads 0, STATUS.RX_UNDERRUN set */
#define EMUNIC_RX_POP	0x14	/* W (value ignored): drop the head frame; the next one's
				 * RX_DATA starts at its byte 0.  Empty queue:
				 * STATUS.RX_UNDERRUN set */
#define EMUNIC_STATUS	0x18	/* R: EMUNIC_ST_* below.  Reading it clears every bit but
				 * RX_READY (which always tells the queue's state) */
#define EMUNIC_TX_DROPS	0x1c	/* R: our sends refused because the receiver's queue was
				 * full, since we booted */
#define EMUNIC_RX_COUNT	0x20	/* R: frames in our receive queue (0 .. EMUNIC_RX_SLOTS) */
#define EMUNIC_RX_SRC	0x24	/* R: the domid that sent the head frame; 0xffff = none */
#define EMUNIC_PORTS	0x28	/* the window is EMUNIC_PORT_BASE .. + EMUNIC_PORTS - 1 */

/* STATUS bits */
#define EMUNIC_ST_RX_READY	(1u << 0)	/* our receive queue is not empty */
#define EMUNIC_ST_TX_OK		(1u << 1)	/* the last TX_SEND queued the frame */
#define EMUNIC_ST_TX_FULL	(1u << 2)	/* ... was dropped: the receiver's queue was full
						 * (counted in TX_DROPS); retry later */
#define EMUNIC_ST_TX_NODOM	(1u << 3)	/* ... no running domain has that domid */
#define EMUNIC_ST_TX_BADLEN	(1u << 4)	/* a TX_LEN out of range, or a TX_SEND of no
						 * frame or of one not fully written */
#define EMUNIC_ST_TX_OVERRUN	(1u << 5)	/* a TX_DATA past the length or with no frame */
#define EMUNIC_ST_RX_UNDERRUN	(1u << 6)	/* an RX_DATA past the head frame's end, or an
						 * RX_DATA / RX_POP on an empty queue */

#endif
