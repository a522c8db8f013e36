/* TEMPORARY until the store branch lands: the agreed client API. */
long xenbus_init(void);
long xenbus_read(const char *path, char *buf, size_t len);
long xenbus_write(const char *path, const char *value);
long xenbus_printf(const char *path, const char *fmt, ...) PRINTF(2, 3);
long xenbus_read_u64(const char *path, u64 *val);
long xenbus_rm(const char *path);
long xenbus_watch(const char *path);
long xenbus_unwatch(const char *path);
bool xenbus_watch_pop(char *path, size_t len);
long xenbus_wait_watch(char *path, size_t len, u64 timeout_ns);
long xenstored_init(void);
unsigned xenstored_poll(void);
bool xenstored_pending(void);
