#pragma once
/*
 * Scope-bound cleanup (STYLE.md "Cleanup"), after systemd and LXC.
 *
 * Declare cleanup variables first in a function, initialised to NULL or -1. Hand ownership
 * on with steal_ptr()/steal_fd(); never free a cleanup variable by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/strv.h"

static inline void cleanup_free_fn(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_close_fn(const int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		(void)close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclose_fn(FILE **f)
{
	if (*f) {
		int saved = errno;

		(void)fclose(*f);
		errno = saved;
	}
}

static inline void cleanup_strv_fn(char ***v)
{
	strv_free(*v);
}

#define cleanup_free __attribute__((cleanup(cleanup_free_fn)))
#define cleanup_close __attribute__((cleanup(cleanup_close_fn)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclose_fn)))
#define cleanup_strv __attribute__((cleanup(cleanup_strv_fn)))

/* Declare a cleanup_<type> attribute for a <type>_free(struct <type> *) function. */
#define DEFINE_CLEANUP_FUNC(type, freefn)                          \
	static inline void freefn##_cleanup(type **p)              \
	{                                                          \
		if (*p)                                            \
			freefn(*p);                                \
	}

#define steal_ptr(pp)                        \
	({                                   \
		__typeof__(*(pp)) tmp_ = *(pp); \
		*(pp) = NULL;                \
		tmp_;                        \
	})

#define steal_fd(pfd)              \
	({                         \
		int tmp_ = *(pfd); \
		*(pfd) = -1;       \
		tmp_;              \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
