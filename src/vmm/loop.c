#include "vmm/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/alloc.h"

#define EVLOOP_MAX_WATCH 64

struct evloop_watch {
	int fd;
	evloop_fn fn;
	void *opaque;
};

struct evloop {
	int epfd;
	struct evloop_watch *w[EVLOOP_MAX_WATCH];
};

struct evloop *evloop_new(void)
{
	struct evloop *l = xcalloc(1, sizeof(*l));

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void evloop_free(struct evloop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < EVLOOP_MAX_WATCH; i++)
		free(l->w[i]);
	if (l->epfd >= 0)
		(void)close(l->epfd);
	free(l);
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	size_t i;

	for (i = 0; i < EVLOOP_MAX_WATCH && l->w[i]; i++)
		;
	if (i == EVLOOP_MAX_WATCH)
		return -ENOSPC;
	l->w[i] = xmalloc(sizeof(*l->w[i]));
	*l->w[i] = (struct evloop_watch){ .fd = fd, .fn = fn, .opaque = opaque };
	ev.data.ptr = l->w[i];
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		free(l->w[i]);
		l->w[i] = NULL;
		return -e;
	}
	return 0;
}

int evloop_del(struct evloop *l, int fd)
{
	for (size_t i = 0; i < EVLOOP_MAX_WATCH; i++)
		if (l->w[i] && l->w[i]->fd == fd) {
			(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			/* Freed lazily: an event for it may still be in the current batch. */
			l->w[i]->fn = NULL;
			return 0;
		}
	return -ENOENT;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	for (size_t i = 0; i < EVLOOP_MAX_WATCH; i++)
		if (l->w[i] && l->w[i]->fd == fd && l->w[i]->fn) {
			struct epoll_event ev = { .events = events, .data.ptr = l->w[i] };

			return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
	return -ENOENT;
}

int evloop_run(struct evloop *l, atomic_int *stop)
{
	struct epoll_event evs[16];

	while (!atomic_load(stop)) {
		int n;

		/*
		 * Between batches no event can name a deleted watch: free them here, or every API
		 * connection would keep its slot and the 57th would be refused.
		 */
		for (size_t i = 0; i < EVLOOP_MAX_WATCH; i++)
			if (l->w[i] && !l->w[i]->fn) {
				free(l->w[i]);
				l->w[i] = NULL;
			}
		n = epoll_wait(l->epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct evloop_watch *w = evs[i].data.ptr;

			if (w->fn)
				w->fn(w->opaque, w->fd, evs[i].events);
		}
	}
	return 0;
}
