#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int err_vset(struct hull_err *err, int errnum, bool with_strerror, const char *fmt,
		    va_list ap)
{
	int code = errnum > 0 ? errnum : (errnum < 0 ? -errnum : EINVAL);
	int n;

	if (!err)
		return -code;
	err->code = code;
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0) {
		err->msg[0] = '\0';
		n = 0;
	}
	if (with_strerror && (size_t)n < sizeof(err->msg))
		(void)snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(code));
	return -code;
}

int hull_err_set(struct hull_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(err, errnum, true, fmt, ap);
	va_end(ap);
	return r;
}

int hull_err_setx(struct hull_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(err, errnum, false, fmt, ap);
	va_end(ap);
	return r;
}

int hull_err_prefix(struct hull_err *err, const char *fmt, ...)
{
	char prefix[HULL_ERR_MSG_MAX];
	char old[HULL_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -EINVAL;
	if (err->code == 0)
		err->code = EINVAL;
	va_start(ap, fmt);
	(void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	(void)snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -err->code;
}

void hull_err_clear(struct hull_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
