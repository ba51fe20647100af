#include "net/net.h"

#include <errno.h>
#include <string.h>

static const char *const names[NET_MODE_COUNT] = {
	[NET_MODE_NONE] = "none",
	[NET_MODE_HOST] = "host",
};

int net_mode_parse(const char *s, enum net_mode *ret, struct hull_err *err)
{
	if (!s) {
		*ret = NET_MODE_NONE;
		return 0;
	}
	for (int i = 0; i < NET_MODE_COUNT; i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum net_mode)i;
			return 0;
		}
	}
	return hull_err_setx(err, EINVAL, "--network %s: only 'none' and 'host' are supported",
			     s);
}

const char *net_mode_name(enum net_mode m)
{
	return m < NET_MODE_COUNT ? names[m] : "unknown";
}

bool net_mode_has_netns(enum net_mode m)
{
	return m != NET_MODE_HOST;
}
