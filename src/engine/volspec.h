#pragma once
/* -v, --mount and --tmpfs values parsed (docker's syntax), with no side effect. */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

enum vol_type { VOL_BIND, VOL_VOLUME, VOL_TMPFS };

struct vol_spec {
	enum vol_type type;
	char *src;         /* bind: the host path as given; volume: its name, NULL anonymous */
	char *dst;         /* absolute, path_normalize()d, not "/" */
	bool ro, nocopy;
	char *prop;        /* rshared... or NULL */
	int64_t tmpfs_size; /* 0: none */
	unsigned tmpfs_mode; /* tmpfs: 01777 unless given */
	char *tmpfs_opts;  /* --tmpfs's extra flags, comma separated, or NULL */
	char **labels;     /* volume-label=K=V */
};

/* Each fills *v (clear it with vol_spec_clear, also after a failure) or returns -EINVAL
 * with one line naming the flag and the value. */
int vol_parse_v(const char *arg, struct vol_spec *v, struct hull_err *err);
int vol_parse_mount(const char *arg, struct vol_spec *v, struct hull_err *err);
int vol_parse_tmpfs(const char *arg, struct vol_spec *v, struct hull_err *err);
void vol_spec_clear(struct vol_spec *v);
/* docker's volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 bytes */
bool vol_name_is_valid(const char *name);
