/*
 * Grant tables: sharing pages between domains (Xen's public/grant_table.h, v1 ABI).
 * Included by public/xen.h; do not include it on its own.                        lab 5
 *
 * Direct paging forbids a domain to map a frame it does not own.  A grant table is the one
 * controlled door: the granter writes entry `ref` of its own table saying "domain D may map
 * (or copy) my frame F, read-only or not"; D then names (granter, ref) to the hypervisor,
 * which checks the entry and maps or copies the frame for it.
 *
 * The table is an array of struct grant_entry_v1 in frames the hypervisor allocates for the
 * domain (GNTTABOP_setup_table returns their machine frame numbers; the domain maps them
 * writable).  Both sides write an entry, so the protocol is:
 *   - the granter fills frame and domid first, then sets flags = GTF_permit_access
 *     (| GTF_readonly) -- a write barrier between, as the flags make the entry live;
 *   - while a mapping or a copy uses the entry the hypervisor sets GTF_reading (and
 *     GTF_writing for a writable use), with a compare-and-swap on the 32-bit word
 *     {flags, domid}, so that a granter racing to revoke either wins (the map fails) or
 *     sees the flags;
 *   - the granter revokes with a compare-and-swap of flags to 0 that fails while
 *     GTF_reading or GTF_writing is set: the entry stays untouched, retry after the unmap.
 * The hypervisor also holds a general (and, writable, a type) reference on the frame for
 * each mapping, so a granter that dies while mapped cannot have the frame reused.
 *
 * grant_table_op(int cmd, void *ops, unsigned count): cmd is a GNTTABOP_*, ops an array of
 * `count` of its structures.  Each op reports in its own `status` field (a GNTST_*); the
 * call returns 0 once all are done, or
 *     -XEN_EFAULT  an op cannot be read or its OUT fields written (ops before it are done)
 *     -XEN_EINVAL  count is not 1 for setup_table or query_size
 *     -XEN_ENOSYS  an unknown cmd (or one pvlab does not provide: dump_table, transfer,
 *                  unmap_and_replace, set_version and later)
 * A long batch gives up the CPU once the slice is over and is continued where it was
 * (XSA-45), as mmu_update is.
 */
typedef u32 grant_ref_t;	/* an index into the granter's table */
typedef u32 grant_handle_t;	/* names one mapping in the mapper's maptrack table */

/* One entry of a v1 grant table (8 bytes, 512 per frame). */
struct grant_entry_v1 {
	u16 flags;		/* GTF_*: the granter sets the type and readonly, we set reading/writing */
	domid_t domid;		/* the domain allowed to map or copy the frame */
	u32 frame;		/* the granted frame (a machine frame number in a PV guest) */
};

#define GTF_invalid		(0U << 0)	/* no access (the type field) */
#define GTF_permit_access	(1U << 0)	/* domid may map or copy frame */
#define GTF_type_mask		(3U << 0)	/* the rest (transfer, transitive): not in pvlab */
#define GTF_readonly		(1U << 2)	/* granter: only read-only mappings and copies from it */
#define GTF_reading		(1U << 3)	/* hypervisor: the frame is in use (mapped or copied) */
#define GTF_writing		(1U << 4)	/* hypervisor: the frame is in use writable */

#define GNTTAB_NR_RESERVED_ENTRIES 8	/* refs 0..7 are the toolstack's (Xen reserves them for
					 * the console and store pages): a guest never grants
					 * them, and maps of them are refused ... */
#define GNTTAB_RESERVED_XENSTORE 1	/* ... but this one: the builder grants a domU's store
					 * page to dom0 here (lab 6), and only dom0 may map it */
#define GNTTAB_MAX_FRAMES	4	/* pvlab: frames per table, so 2048 refs at most */
#define GNTTAB_MAPTRACK_MAX	256	/* pvlab: live mappings per mapper */

/* GNTMAP_* flags of map_grant_ref: pvlab supports host mappings only. */
#define GNTMAP_device_map	(1U << 0)	/* not in pvlab (no IOMMU): GNTST_general_error */
#define GNTMAP_host_map		(1U << 1)	/* map at host_addr of the caller's page tables */
#define GNTMAP_readonly		(1U << 2)	/* a read-only mapping (even of a writable grant) */
#define GNTMAP_application_map	(1U << 3)	/* not in pvlab: GNTST_general_error */
#define GNTMAP_contains_pte	(1U << 4)	/* not in pvlab: GNTST_general_error */

/* GNTST_*: the status of one op. */
#define GNTST_okay		(0)
#define GNTST_general_error	(-1)	/* see each op */
#define GNTST_bad_domain	(-2)	/* not a running domain (or the caller itself, for a map) */
#define GNTST_bad_gntref	(-3)	/* ref reserved (< 8, see above) or past the table */
#define GNTST_bad_handle	(-4)	/* not a live handle of the caller's maptrack */
#define GNTST_bad_virt_addr	(-5)	/* host_addr not page-aligned or not in a page table */
#define GNTST_bad_dev_addr	(-6)
#define GNTST_no_device_space	(-7)
#define GNTST_permission_denied	(-8)	/* entry not permit_access, for another domain, or read-only */
#define GNTST_bad_page		(-9)	/* the frame is not the owner's (copy) */
#define GNTST_bad_copy_arg	(-10)	/* copy: offset + len past the end of a page */
#define GNTST_address_too_big	(-11)
#define GNTST_eagain		(-12)
#define GNTST_no_space		(-13)	/* the caller's maptrack table is full */

/* GNTTABOP_map_grant_ref: map entry `ref` of domain `dom`'s table at host_addr of the
 * caller's current page tables (the L1 entry must exist and be empty), read-only if
 * GNTMAP_readonly or the entry is GTF_readonly.
 *     GNTST_bad_domain         dom is not a running domain, or is the caller
 *     GNTST_bad_gntref         ref reserved (but GNTTAB_RESERVED_XENSTORE for dom0) or
 *                              past dom's table
 *     GNTST_permission_denied  entry not GTF_permit_access, not for the caller, or
 *                              GTF_readonly and the map writable
 *     GNTST_bad_virt_addr      host_addr not page-aligned, or no validated L1 maps it
 *     GNTST_no_space           maptrack full
 *     GNTST_general_error      flags other than host_map|readonly; the entry's frame is not
 *                              dom's; host_addr already mapped; a writable map of a frame
 *                              typed as something else (a page table); the entry changed
 *                              under the compare-and-swap too often */
#define GNTTABOP_map_grant_ref	0
struct gnttab_map_grant_ref {
	u64 host_addr;		/* IN */
	u32 flags;		/* IN: GNTMAP_host_map (| GNTMAP_readonly) */
	grant_ref_t ref;	/* IN */
	domid_t dom;		/* IN: the granter */
	s16 status;		/* OUT: GNTST_* */
	grant_handle_t handle;	/* OUT: for unmap_grant_ref */
	u64 dev_bus_addr;	/* OUT: 0 (no device mappings) */
};

/* GNTTABOP_unmap_grant_ref: undo the mapping `handle` of the caller, at host_addr.
 *     GNTST_bad_handle     handle is not a live mapping of the caller
 *     GNTST_general_error  host_addr is not where handle was mapped, or the entry there no
 *                          longer maps the granted frame */
#define GNTTABOP_unmap_grant_ref 1
struct gnttab_unmap_grant_ref {
	u64 host_addr;		/* IN: as given to map_grant_ref */
	u64 dev_bus_addr;	/* IN: ignored */
	grant_handle_t handle;	/* IN */
	s16 status;		/* OUT */
};

/* GNTTABOP_setup_table: give the caller's table nr_frames frames (it only grows) and write
 * their machine frame numbers to frame_list[0 .. nr_frames-1].  count must be 1.
 *     GNTST_bad_domain         dom is not DOMID_SELF or the caller's id
 *     GNTST_general_error      nr_frames > GNTTAB_MAX_FRAMES, or no memory left
 *     GNTST_bad_virt_addr      frame_list cannot be written */
#define GNTTABOP_setup_table	2
struct gnttab_setup_table {
	domid_t dom;		/* IN: DOMID_SELF */
	u16 pad;
	u32 nr_frames;		/* IN */
	s16 status;		/* OUT */
	u16 pad2[3];
	u64 frame_list;		/* IN: guest pointer to nr_frames xen_pfn_t, filled OUT */
};

/* GNTTABOP_copy: copy len bytes from source to dest, each either a grant ref of another
 * domain (GNTCOPY_source_gref / GNTCOPY_dest_gref) or a frame of the caller's own
 * (u.gmfn, a machine frame, domid DOMID_SELF).  The destination is written only if the
 * grant is writable; the caller's own destination frame must not be a page table.
 *     GNTST_bad_copy_arg       offset + len > PAGE_SIZE on either side
 *     GNTST_bad_domain         a gref's domid is not a running domain
 *     GNTST_bad_gntref, GNTST_permission_denied  as for map_grant_ref
 *     GNTST_bad_page           a gmfn not the caller's, or a granted frame not the granter's
 *     GNTST_general_error      flags other than the two below; the destination is a page
 *                              table; the entry changed under the compare-and-swap */
#define GNTTABOP_copy		5
#define GNTCOPY_source_gref	(1U << 0)
#define GNTCOPY_dest_gref	(1U << 1)
struct gnttab_copy_ptr {
	union {
		grant_ref_t ref;
		xen_pfn_t gmfn;
	} u;
	domid_t domid;		/* the granter for a gref, else DOMID_SELF */
	u16 offset;
};
struct gnttab_copy {
	struct gnttab_copy_ptr source;	/* IN */
	struct gnttab_copy_ptr dest;	/* IN */
	u16 len;		/* IN */
	u16 flags;		/* IN: GNTCOPY_* */
	s16 status;		/* OUT */
};

/* GNTTABOP_query_size: the caller's table size now and at most.  count must be 1.
 *     GNTST_bad_domain  dom is not DOMID_SELF or the caller's id */
#define GNTTABOP_query_size	6
struct gnttab_query_size {
	domid_t dom;		/* IN: DOMID_SELF */
	u16 pad;
	u32 nr_frames;		/* OUT */
	u32 max_nr_frames;	/* OUT */
	s16 status;		/* OUT */
};

STATIC_ASSERT(sizeof(struct grant_entry_v1) == 8);
STATIC_ASSERT(sizeof(struct gnttab_map_grant_ref) == 32);
STATIC_ASSERT(sizeof(struct gnttab_unmap_grant_ref) == 24);
STATIC_ASSERT(sizeof(struct gnttab_setup_table) == 24);
STATIC_ASSERT(sizeof(struct gnttab_copy) == 40);
STATIC_ASSERT(sizeof(struct gnttab_query_size) == 16);
