#pragma once
/*
 * Terminals for `hull run -t`, `hull exec -t` and a foreground `hull-oci run` of a config with
 * process.terminal: the runtime creates the container's pty and sends its master over a unix
 * socket (--console-socket, runtime-spec "Console"); the caller relays it, as runc does.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

struct tty_console {
	char *dir;  /* private directory of the socket */
	char *path; /* the socket */
	int listen_fd;
};

/* Listen on a new socket (a short path under /tmp: sun_path has 108 bytes). */
int tty_console_listen(struct tty_console *c, struct hull_err *err);
/* Accept the runtime's connection and receive the pty master. */
int tty_console_receive(struct tty_console *c, int *ret_master, struct hull_err *err);
void tty_console_close(struct tty_console *c);

/*
 * Relay between the caller's terminal and master until the container's side hangs up:
 * stdin -> master when forward_stdin, master -> stdout, each chunk also given to tap when
 * not NULL (the engine logs it). The caller's terminal is put in raw mode meanwhile and its
 * window size follows SIGWINCH.
 */
typedef void (*tty_tap_fn)(void *opaque, const char *buf, size_t len);
void tty_relay(int master, bool forward_stdin, tty_tap_fn tap, void *opaque);
