#include "engine/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"

#define STOPPED_MARK "stopped"
#define RESTART_FIRST_MS 100u
#define RESTART_MAX_MS 60000u
#define RESTART_RESET_MS 10000

static const char *const restart_names[CTR_RESTART_COUNT] = {
	[CTR_RESTART_NO] = "no",
	[CTR_RESTART_ON_FAILURE] = "on-failure",
	[CTR_RESTART_ALWAYS] = "always",
	[CTR_RESTART_UNLESS_STOPPED] = "unless-stopped",
};

const char *ctr_restart_name(enum ctr_restart_policy p)
{
	return p < CTR_RESTART_COUNT ? restart_names[p] : "no";
}

int ctr_restart_parse(const char *s, struct ctr_restart *ret)
{
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);

	*ret = (struct ctr_restart){ 0 };
	for (int i = 0; i < CTR_RESTART_COUNT; i++) {
		if (strlen(restart_names[i]) != len || strncmp(s, restart_names[i], len) != 0)
			continue;
		ret->policy = (enum ctr_restart_policy)i;
		if (!colon)
			return 0;
		/* docker: a maximum retry count only goes with on-failure */
		if (i != CTR_RESTART_ON_FAILURE || !colon[1] || strlen(colon + 1) > 9 ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return -EINVAL;
		ret->max_retries = (int)strtol(colon + 1, NULL, 10);
		return 0;
	}
	return -EINVAL;
}

bool ctr_restart_wanted(const struct ctr_restart *p, int code, unsigned count, bool stopped)
{
	if (stopped)
		return false;
	switch (p->policy) {
	case CTR_RESTART_ALWAYS:
	case CTR_RESTART_UNLESS_STOPPED:
		return true;
	case CTR_RESTART_ON_FAILURE:
		/* 0 retries: unlimited, as docker */
		return code != 0 && (p->max_retries == 0 || count < (unsigned)p->max_retries);
	case CTR_RESTART_NO:
	case CTR_RESTART_COUNT:
	default:
		return false;
	}
}

unsigned ctr_restart_delay_ms(unsigned prev_ms, long long ran_ms)
{
	if (prev_ms == 0 || ran_ms >= RESTART_RESET_MS)
		return RESTART_FIRST_MS;
	return prev_ms >= RESTART_MAX_MS / 2 ? RESTART_MAX_MS : prev_ms * 2;
}

bool ctr_label_is_valid(const char *kv)
{
	if (!*kv || *kv == '=')
		return false;
	for (const char *p = kv; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static size_t key_len(const char *kv)
{
	return strcspn(kv, "=");
}

/* Set KEY=VALUE in v, replacing a label of the same key. */
static void label_put(char ***v, const char *key, size_t klen, const char *value)
{
	char *kv = xasprintf("%.*s=%s", (int)klen, key, value);

	for (size_t i = 0; *v && (*v)[i]; i++) {
		if (key_len((*v)[i]) == klen && strncmp((*v)[i], key, klen) == 0) {
			free((*v)[i]);
			(*v)[i] = kv;
			return;
		}
	}
	strv_push_owned(v, kv);
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **ctr_labels_merge(json_t *image_labels, char *const *flags)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *key;
	json_t *val;

	if (json_is_object(image_labels))
		json_object_foreach(image_labels, key, val)
			if (json_is_string(val) && ctr_label_is_valid(key))
				label_put(&v, key, strlen(key), json_string_value(val));
	for (size_t i = 0; flags && flags[i]; i++) {
		size_t k = key_len(flags[i]);

		label_put(&v, flags[i], k, flags[i][k] ? flags[i] + k + 1 : "");
	}
	qsort(v, strv_length(v), sizeof(char *), label_cmp);
	return v;
}

bool ctr_labels_match(char *const *labels, const char *filter)
{
	size_t k = key_len(filter);

	for (size_t i = 0; labels && labels[i]; i++) {
		if (key_len(labels[i]) != k || strncmp(labels[i], filter, k) != 0)
			continue;
		return !filter[k] || strcmp(labels[i] + k + 1, filter + k + 1) == 0;
	}
	return false;
}

int ctr_mark_stopped(const char *dir)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, STOPPED_MARK);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	(void)close(fd);
	return 0;
}

int ctr_clear_stopped(const char *dir)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, STOPPED_MARK);

	if (unlink(p) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool ctr_is_stopped(const char *dir)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, STOPPED_MARK);

	return access(p, F_OK) == 0;
}
