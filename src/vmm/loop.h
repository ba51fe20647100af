#pragma once
/*
 * The device event loop: one epoll thread (the main thread) serving the console input,
 * ioeventfds of virtqueues, the control socket and the stop eventfd.
 */
#include <stdatomic.h>
#include <stdint.h>

struct evloop;

typedef void (*evloop_fn)(void *opaque, int fd, uint32_t events);

struct evloop *evloop_new(void);
void evloop_free(struct evloop *l);

/* Watch fd for events (EPOLLIN...); returns 0 or -errno. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque);
int evloop_del(struct evloop *l, int fd);
/*
 * Change the events watched on fd (0: none for now, the watch stays), e.g. stop reading a
 * tap while the guest has no buffers for it; returns 0 or -errno. Unlike evloop_del and
 * evloop_add, it takes no slot: a device may toggle it at every packet.
 */
int evloop_mod(struct evloop *l, int fd, uint32_t events);

/* Dispatch until *stop is non-zero; returns 0 or -errno from epoll_wait. */
int evloop_run(struct evloop *l, atomic_int *stop);
