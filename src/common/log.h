#pragma once
/*
 * Logging. Library code logs at debug level only (STYLE.md "Errors"); cli/ decides where
 * errors go. With a log file in JSON format each record is one line
 * {"level":"error","msg":"...","time":"RFC3339"}, the form runc writes and podman and
 * containerd read back on failure.
 */
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_COUNT,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
	LOG_FORMAT_COUNT,
};

/*
 * Direct records to path (appended, created 0600) in the given format, or to stderr when
 * path is NULL. Returns 0 or -errno; on failure the previous destination is kept.
 */
int log_open(const char *path, enum log_format format);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Also copy error records to stderr as "prog: msg" even when a log file is open. */
void log_set_stderr_copy(bool on);
/* The fd in use for the log file, or -1: for callers that must keep it open across exec. */
int log_fd(void);
void log_close(void);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                        \
	do {                                                  \
		if (log_get_level() >= LOG_LEVEL_DEBUG)       \
			log_write(LOG_LEVEL_DEBUG, __VA_ARGS__); \
	} while (0)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
