/*
 * The driver of the emulated NIC (include/public/io/emunic.h): the way a fully virtualized
 * guest drives a real device, one 32-bit port access -- one VM exit -- per register touch
 * and per 4 bytes of data.  Lab 6 measures it against the PV ring (make bench).
 */
#include "guest/kernel.h"
#include "public/io/emunic.h"

u32 emunic_reg(unsigned reg)
{
	return inl((u16)(EMUNIC_PORT_BASE + reg));
}

static void emunic_out(unsigned reg, u32 v)
{
	outl((u16)(EMUNIC_PORT_BASE + reg), v);
}

/* TX_SEND to dst, then STATUS for its outcome: 0 or the -XEN_* the header above names. */
long emunic_resend(domid_t dst)
{
	emunic_out(EMUNIC_TX_SEND, dst);
	u32 st = emunic_reg(EMUNIC_STATUS);
	if (st & EMUNIC_ST_TX_OK)
		return 0;
	if (st & EMUNIC_ST_TX_FULL)
		return -XEN_EAGAIN;
	if (st & EMUNIC_ST_TX_NODOM)
		return -XEN_ESRCH;
	return -XEN_EINVAL;
}

/* Write a frame of len bytes (1..EMUNIC_FRAME_MAX) into the device a word at a time and
 * send it to dst. */
long emunic_send(domid_t dst, const void *buf, unsigned len)
{
	if (len < 1 || len > EMUNIC_FRAME_MAX)
		return -XEN_EINVAL;
	const u8 *p = buf;
	emunic_out(EMUNIC_TX_LEN, len);
	for (unsigned i = 0; i < len; i += 4) {
		u32 w = 0;
		memcpy(&w, p + i, MIN(4u, len - i));	/* never read past the caller's buffer */
		emunic_out(EMUNIC_TX_DATA, w);
	}
	return emunic_resend(dst);
}

/* Take the frame at the head of our receive queue into buf (at most max bytes): its length
 * (0 if the queue is empty), and its sender in *src if src is not NULL.  A frame longer
 * than max is dropped unread: -XEN_E2BIG. */
long emunic_recv(void *buf, unsigned max, domid_t *src)
{
	u32 len = emunic_reg(EMUNIC_RX_LEN);
	if (!len)
		return 0;
	if (src)
		*src = (domid_t)emunic_reg(EMUNIC_RX_SRC);
	if (len > max) {
		emunic_out(EMUNIC_RX_POP, 0);
		return -XEN_E2BIG;
	}
	u8 *p = buf;
	for (u32 i = 0; i < len; i += 4) {
		u32 w = emunic_reg(EMUNIC_RX_DATA);
		memcpy(p + i, &w, MIN(4u, len - i));
	}
	emunic_out(EMUNIC_RX_POP, 0);
	return len;
}
