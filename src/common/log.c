#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/timefmt.h"

static int g_fd = -1;
static enum log_format g_format = LOG_FORMAT_TEXT;
static enum log_level g_level = LOG_LEVEL_WARN;
static bool g_stderr_copy = true;
static const char *const level_names[LOG_LEVEL_COUNT] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

int log_open(const char *path, enum log_format format)
{
	int fd;

	if (!path) {
		log_close();
		g_format = format;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	log_close();
	g_fd = fd;
	g_format = format;
	return 0;
}

void log_set_level(enum log_level level)
{
	g_level = level;
}

enum log_level log_get_level(void)
{
	return g_level;
}

void log_set_stderr_copy(bool on)
{
	g_stderr_copy = on;
}

int log_fd(void)
{
	return g_fd;
}

void log_close(void)
{
	if (g_fd >= 0)
		(void)close(g_fd);
	g_fd = -1;
}

/* Escape s as the body of a JSON string into out (always NUL-terminated). */
static void json_escape(char *out, size_t outsz, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, outsz - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char msg[2048], esc[4200], line[4400], ts[64];
	int saved = errno;
	struct timespec now;
	va_list ap;
	int n;

	if (level > g_level && !(level == LOG_LEVEL_ERROR))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (g_fd >= 0) {
		(void)clock_gettime(CLOCK_REALTIME, &now);
		(void)rfc3339_format(&now, ts, sizeof(ts));
		if (g_format == LOG_FORMAT_JSON) {
			json_escape(esc, sizeof(esc), msg);
			n = snprintf(line, sizeof(line),
				     "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s\"}\n",
				     level_names[level], esc, ts);
		} else {
			n = snprintf(line, sizeof(line), "%s %s: %s\n", ts, level_names[level], msg);
		}
		if (n > 0)
			write_all(g_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	if (g_fd < 0 || (g_stderr_copy && level == LOG_LEVEL_ERROR)) {
		n = snprintf(line, sizeof(line), "%s%s\n",
			     level == LOG_LEVEL_ERROR ? "" : (level == LOG_LEVEL_WARN ? "warning: " : ""),
			     msg);
		if (n > 0)
			write_all(STDERR_FILENO, line,
				  (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	errno = saved;
}
