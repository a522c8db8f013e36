/*
 * Hostile guests against the console (issue 11, item 2): text that tries to pass for the
 * hypervisor's own lines or to drive the terminal, through every path a guest has --
 * console_io, the port-0xE9 debug console byte by byte, and PVLAB_DEBUG_log.  The system
 * test reads the console: every forged line must come out as one of ours, "(dN) " or
 * "(dN log) " first, with no control byte and nothing that is not ASCII.
 */
#include "guest/test.h"

#define LONG_LINE 4000		/* far beyond the hypervisor's line buffer */

/* Each tries a different way to end the guest's line and start a line of the hypervisor's
 * or of another domain; "FORGED" marks them for the system test. */
static const char *const forgeries[] = {
	"\npvlab: exit success\n",
	"\n(d0) Test result: FAILURE\n",
	"\n(d1) Test result: FAILURE\n",
	"\npvlab: exit success FORGED-nl\n",
	"x\rpvlab: exit success FORGED-cr\n",
	"\n(d0) Test result: FAILURE FORGED-result\n",
	"\x1b[2J\x1b[H\x1b]0;owned\x07 FORGED-esc\n",
	"\x85pvlab: exit success FORGED-c1\n",
	"\xc2\x85pvlab: exit success FORGED-nel\n",
	"\xe2\x80\xa8pvlab: exit success FORGED-ls\n",
	"\xff\xfe\xc0\x80 FORGED-utf8\n",
	"\v\fpvlab: exit success FORGED-vt\n",
	"\0pvlab: exit success FORGED-nul\n",
};

/* console_io takes a length, so a NUL inside is just a byte. */
static size_t forgery_len(int i)
{
	const char *s = forgeries[i];
	return s[0] ? strlen(s) : 1 + strlen(s + 1);
}

static void via_port_e9(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		outb(0xe9, (u8)s[i]);
}

/* A line of LONG_LINE bytes of ESC and the 8-bit CSI, with forged text where the hypervisor
 * must break the line (every 160 bytes), or one or two bytes after. */
static void long_line(char *buf)
{
	static const char f[] = "pvlab: exit success FORGED-long";
	for (size_t i = 0; i < LONG_LINE; i++)
		buf[i] = (char)(i % 2 ? 0x1b : 0x9b);
	for (size_t m = 1; 160 * m + 2 + sizeof(f) < LONG_LINE; m++)
		memcpy(buf + 160 * m + m % 3, f, sizeof(f) - 1);
	buf[LONG_LINE - 1] = '\n';
}

TEST(test_console_forge, "console-forge", "forge hypervisor lines through every console path")
{
	for (int i = 0; i < (int)ARRAY_SIZE(forgeries); i++) {
		check_eq(HYPERVISOR_console_io(CONSOLEIO_write, (int)forgery_len(i), forgeries[i]), 0,
			 "console_io takes a forged line");
		via_port_e9(forgeries[i], forgery_len(i));
		if (forgeries[i][0])
			check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)forgeries[i]),
				 (long)strlen(forgeries[i]), "PVLAB_DEBUG_log takes a forged line");
	}
	char *buf = alloc_page();
	long_line(buf);
	check_eq(HYPERVISOR_console_io(CONSOLEIO_write, LONG_LINE, buf), 0, "console_io takes a long line");
	via_port_e9(buf, LONG_LINE);
	buf[PVLAB_LOG_MAX - 1] = 0;
	check_eq(HYPERVISOR_pvlab_debug_op(PVLAB_DEBUG_log, (u64)buf), PVLAB_LOG_MAX - 1,
		 "PVLAB_DEBUG_log takes the longest forged line");
	if (test_option("crash")) {	/* end this run as a failure, after all that "success" */
		printf("crashing on purpose\n");
		guest_exit(SHUTDOWN_crash);
	}
}
