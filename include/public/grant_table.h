/*
 * grant_table_op(int cmd, void *arg, unsigned count) (Xen's public/grant_table.h, v1).
 * Included by public/xen.h.  Lab 5 fills this header: grant entries, GNTTABOP_setup_table,
 * map_grant_ref, unmap_grant_ref, copy.
 */
