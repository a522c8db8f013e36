/*
 * emunic: the emulated NIC (include/public/io/emunic.h), lab 6's trap-and-emulate twin of
 * the PV network device.  Every IN or OUT a guest makes to the device's ports exits; exit.c
 * hands it here, and we play the hardware one 32-bit register access at a time.  It is
 * deliberately the slow way -- the point is to measure it against netfront/netback.
 *
 * Each domain owns one device: an unsent frame (one hypervisor page) and a receive queue
 * of EMUNIC_RX_SLOTS frames (one page each), all taken when the domain is built and given
 * back when it is destroyed, so the memory a guest can make us hold is fixed.  A send
 * copies the whole frame into the receiver's next free slot; nothing ever waits.
 * Vendor-neutral: the backend decoded the exit into struct vm_exit's io fields.
 */
#include "hv/hv.h"
#include "public/io/emunic.h"

STATIC_ASSERT(EMUNIC_FRAME_MAX == PAGE_SIZE);	/* a frame is one page */

struct emunic_slot {
	mfn_t page;		/* the frame's bytes */
	u16 len;		/* 1 .. EMUNIC_FRAME_MAX while queued */
	domid_t src;
};

struct emunic {
	bool present;		/* its pages were allocated */
	mfn_t tx_page;		/* the frame being written */
	u32 tx_len;		/* 0: no frame started */
	u32 tx_pos;		/* bytes written so far (a multiple of 4, may pass tx_len by < 4) */
	u32 status;		/* EMUNIC_ST_* except RX_READY, which is computed */
	u32 tx_drops;
	struct emunic_slot rx[EMUNIC_RX_SLOTS];
	unsigned rx_head, rx_count;	/* a ring over rx[] */
	u32 rx_pos;		/* bytes of the head frame already read */
};

static struct emunic nics[MAX_DOMAINS];	/* indexed by domid, like domains[] */

bool emunic_owns_port(u16 port)
{
	return port >= EMUNIC_PORT_BASE && port < EMUNIC_PORT_BASE + EMUNIC_PORTS;
}

/* Forget the device's queued and unsent frames and give its pages back (the frames' bytes
 * are cleared by page_alloc when the pages are next used). */
static void nic_free(struct emunic *n)
{
	if (n->present) {
		page_free(n->tx_page);
		for (int i = 0; i < EMUNIC_RX_SLOTS; i++)
			page_free(n->rx[i].page);
	}
	memset(n, 0, sizeof(*n));
}

/* Builder hook: d's device, empty.  Short of memory, d simply has no device (its port
 * accesses #GP, and sends to it find no domain); the other domains are unaffected. */
static void emunic_domain_init(struct domain *d)
{
	struct emunic *n = &nics[d->id];
	nic_free(n);
	n->tx_page = page_alloc(OWNER_XEN);
	bool ok = n->tx_page != INVALID_MFN;
	for (int i = 0; i < EMUNIC_RX_SLOTS; i++) {
		n->rx[i].page = ok ? page_alloc(OWNER_XEN) : INVALID_MFN;
		if (n->rx[i].page == INVALID_MFN && ok) {
			ok = false;
			while (i-- > 0)
				page_free(n->rx[i].page);
			page_free(n->tx_page);
		}
	}
	if (!ok) {
		memset(n, 0, sizeof(*n));
		printf("pvlab: d%u: no memory for the emulated NIC\n", d->id);
		return;
	}
	n->present = true;
}

/* Teardown hook: d's queue, its unsent frame and their pages go; nothing of them can
 * reach a domain built later in this slot. */
static void emunic_domain_destroy(struct domain *d)
{
	nic_free(&nics[d->id]);
}

DOM_HOOKS(emunic, .domain_init = emunic_domain_init, .domain_destroy = emunic_domain_destroy);

/* TX_SEND: copy the finished frame into domain dst's next free slot.  Returns the outcome
 * as an EMUNIC_ST_TX_* bit; only TX_OK consumes the frame. */
static u32 nic_send(struct domain *self, struct emunic *n, u32 dst)
{
	if (!n->tx_len || n->tx_pos < n->tx_len)
		return EMUNIC_ST_TX_BADLEN;
	/* dst is 32 bits of guest register: domain_by_id() takes a domid_t, so range-check
	 * first or 0x10001 would name d1. */
	struct domain *d = dst < MAX_DOMAINS ? domain_by_id((domid_t)dst) : NULL;
	struct emunic *r = d ? &nics[d->id] : NULL;
	if (!r || !r->present)
		return EMUNIC_ST_TX_NODOM;
	if (r->rx_count >= EMUNIC_RX_SLOTS) {
		n->tx_drops++;
		return EMUNIC_ST_TX_FULL;
	}
	struct emunic_slot *s = &r->rx[(r->rx_head + r->rx_count) % EMUNIC_RX_SLOTS];
	memcpy(mfn_to_virt(s->page), mfn_to_virt(n->tx_page), n->tx_len);
	s->len = (u16)n->tx_len;
	s->src = self->id;
	r->rx_count++;
	n->tx_len = n->tx_pos = 0;
	return EMUNIC_ST_TX_OK;
}

/* An OUT of val to register reg; false if the register is not writable (#GP). */
static bool nic_write(struct domain *self, struct emunic *n, unsigned reg, u32 val)
{
	switch (reg) {
	case EMUNIC_TX_LEN:
		n->tx_pos = 0;
		n->tx_len = val >= 1 && val <= EMUNIC_FRAME_MAX ? val : 0;
		if (!n->tx_len)
			n->status |= EMUNIC_ST_TX_BADLEN;
		return true;
	case EMUNIC_TX_DATA:
		if (n->tx_pos >= n->tx_len) {	/* also: no frame started (both 0) */
			n->status |= EMUNIC_ST_TX_OVERRUN;
			return true;
		}
		/* tx_pos < tx_len <= 4096 and a multiple of 4: the word fits in the page */
		*(u32 *)((u8 *)mfn_to_virt(n->tx_page) + n->tx_pos) = val;
		n->tx_pos += 4;
		return true;
	case EMUNIC_TX_SEND:
		n->status &= ~(EMUNIC_ST_TX_OK | EMUNIC_ST_TX_FULL | EMUNIC_ST_TX_NODOM |
			       EMUNIC_ST_TX_BADLEN);
		n->status |= nic_send(self, n, val);
		return true;
	case EMUNIC_RX_POP:
		if (!n->rx_count) {
			n->status |= EMUNIC_ST_RX_UNDERRUN;
			return true;
		}
		n->rx_head = (n->rx_head + 1) % EMUNIC_RX_SLOTS;
		n->rx_count--;
		n->rx_pos = 0;
		return true;
	default:
		return false;
	}
}

/* RX_DATA: the head frame's next word, bytes past its length as 0 (so the tail of an
 * earlier, longer frame in that page never shows). */
static u32 nic_rx_word(struct emunic *n)
{
	struct emunic_slot *s = &n->rx[n->rx_head];
	if (!n->rx_count || n->rx_pos >= s->len) {
		n->status |= EMUNIC_ST_RX_UNDERRUN;
		return 0;
	}
	u32 w = *(u32 *)((u8 *)mfn_to_virt(s->page) + n->rx_pos);
	u32 left = s->len - n->rx_pos;
	if (left < 4)
		w &= (1u << (8 * left)) - 1;
	n->rx_pos += 4;
	return w;
}

/* An IN from register reg into *val; false if the register is not readable (#GP). */
static bool nic_read(struct emunic *n, unsigned reg, u32 *val)
{
	switch (reg) {
	case EMUNIC_RX_LEN: *val = n->rx_count ? n->rx[n->rx_head].len : 0; return true;
	case EMUNIC_RX_DATA: *val = nic_rx_word(n); return true;
	case EMUNIC_STATUS:
		*val = n->status | (n->rx_count ? EMUNIC_ST_RX_READY : 0);
		n->status = 0;
		return true;
	case EMUNIC_TX_DROPS: *val = n->tx_drops; return true;
	case EMUNIC_RX_COUNT: *val = n->rx_count; return true;
	case EMUNIC_RX_SRC: *val = n->rx_count ? n->rx[n->rx_head].src : 0xffff; return true;
	default: return false;
	}
}

/* One guest IN or OUT in the device's window (emunic_owns_port(e->io.port)).  Returns true
 * if it was carried out (the caller skips the instruction), false if it must #GP: not a
 * 32-bit access at a register's port in that register's direction, string I/O, or a
 * domain without a device.  A 32-bit IN zero-extends into RAX, as the CPU does. */
bool emunic_io(struct vcpu *v, const struct vm_exit *e)
{
	struct emunic *n = &nics[v->dom->id];
	unsigned reg = e->io.port - EMUNIC_PORT_BASE;
	if (!n->present || e->io.string || e->io.size != 4 || (reg & 3))
		return false;
	if (!e->io.in)
		return nic_write(v->dom, n, reg, (u32)v->regs.rax);
	u32 val;
	if (!nic_read(n, reg, &val))
		return false;
	v->regs.rax = val;
	return true;
}
