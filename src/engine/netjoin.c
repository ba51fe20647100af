#include "engine/netjoin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "net/netavark.h"
#include "oci/state.h"

const char *engine_netjoin_target(const char *mode)
{
	return mode && strncmp(mode, "container:", 10) == 0 ? mode + 10 : NULL;
}

char *engine_netjoin_path(struct image_store *s, const char *id)
{
	return xasprintf("%s/netns/%s", s->root, id);
}

/* Whether pid is still the init x recorded: same starttime, not a zombie. */
static bool is_init_of(const struct ctr *x, pid_t pid)
{
	unsigned long long start = 0;
	bool zombie = true;

	return pid > 0 && x->state.start_ticks != 0 &&
	       proc_stat_read(pid, &start, &zombie) == 0 && !zombie &&
	       start == x->state.start_ticks;
}

int engine_netjoin_setup(struct image_store *s, struct ctr *c, struct hull_err *err)
{
	const char *ref = engine_netjoin_target(c->host.network_mode);
	cleanup_free char *nsd = xasprintf("%s/netns", s->root);
	cleanup_free char *path = engine_netjoin_path(s, c->id);
	cleanup_free char *src = NULL;
	cleanup_ctr struct ctr *x = NULL;
	cleanup_close int fd = -1;
	pid_t pid;
	int r;

	if (!ref)
		return 0;
	r = ctr_load(s, ref, &x, err);
	if (r < 0)
		return hull_err_prefix(err, "--network container:%s", ref);
	pid = x->state.pid;
	if (strcmp(x->id, c->id) == 0 || ctr_status_live(x) != CTR_RUNNING || !is_init_of(x, pid))
		return hull_err_setx(err, EINVAL, "cannot join network of a non running container: "
				     "%s", ref);
	/* what a killed hull left of an earlier start */
	(void)netns_remove(path);
	if (mkdir(nsd, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "%s", nsd);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return hull_err_set(err, errno, "%s", path);
	src = xasprintf("/proc/%d/ns/net", (int)pid);
	if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
		r = hull_err_set(err, errno, "mount %s on %s", src, path);
		(void)netns_remove(path);
		return r;
	}
	/* checked again once mounted: had the pid been recycled before the mount, the process
	 * there now is not X's init, and the mount holds a stranger's namespace */
	if (!is_init_of(x, pid)) {
		(void)netns_remove(path);
		return hull_err_setx(err, EINVAL, "cannot join network of a non running container: "
				     "%s", ref);
	}
	return 0;
}

void engine_netjoin_teardown(struct image_store *s, struct ctr *c)
{
	cleanup_free char *path = NULL;

	if (!engine_netjoin_target(c->host.network_mode))
		return;
	path = engine_netjoin_path(s, c->id);
	(void)netns_remove(path);
}
