#pragma once
/*
 * The control-plane error object (STYLE.md "Errors").
 *
 * Fixed-size on purpose: a child between clone() and exec can fill one in and write it whole
 * to the sync pipe for the parent to report, without touching the heap (crun's model).
 */
#include <stdarg.h>
#include <stdbool.h>

#define HULL_ERR_MSG_MAX 1024

struct hull_err {
	int code;                    /* positive errno, 0 when unset */
	char msg[HULL_ERR_MSG_MAX];  /* one line, no trailing newline */
};

/*
 * Set err to "<fmt>: strerror(errnum)" and return -errnum (-EINVAL when errnum is 0, so the
 * result is always a failure). err may be NULL: only the return value is produced then.
 */
int hull_err_set(struct hull_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As hull_err_set, without the strerror suffix: for validation errors whose text says it all. */
int hull_err_setx(struct hull_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend "<fmt>: " to the message already in err; returns -err->code (or -EINVAL). */
int hull_err_prefix(struct hull_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void hull_err_clear(struct hull_err *err);

static inline bool hull_err_is_set(const struct hull_err *err)
{
	return err && err->code != 0;
}
