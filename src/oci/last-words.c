/*
 * The container init's last words. After READY the init has no channel back to hull-oci: the
 * sync socket is closed, and `start` only waits for the exec fifo to close. A failure between
 * start and execve (a startContainer hook, seccomp, the exec itself) is therefore written where
 * runc writes it: the container's own stderr, so that the user reads it in `hull logs` or on the
 * terminal, exactly like the program's own output. This is the only file of the runtime library
 * that writes to fd 2 (scripts/lint knows it), and it runs only in the container's init, never
 * in hull's own process.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oci/last-words.h"

void init_last_words(int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)dprintf(STDERR_FILENO, "hull-oci: %s\n", msg);
	_exit(code);
}

void init_exec_failed(const char *path, int e)
{
	char why[128];

	(void)snprintf(why, sizeof(why), "%s", strerror(e));
	why[0] = (char)tolower((unsigned char)why[0]);
	(void)dprintf(STDERR_FILENO, "exec %s: %s\n", path, why);
	_exit(e == ENOENT ? 127 : 126);
}
