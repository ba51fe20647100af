#pragma once
/* A foreground `hull-oci run` with a terminal: listen, receive the pty master, relay. */
#include <stdbool.h>

#include "common/error.h"

struct oci_tty {
	char *dir;  /* private directory of the socket */
	char *path; /* the socket, passed as the console socket */
	int listen_fd;
};

int oci_tty_listen(struct oci_tty *c, struct hull_err *err);
int oci_tty_receive(struct oci_tty *c, int *ret_master, struct hull_err *err);
void oci_tty_close(struct oci_tty *c);
/* Until the container's side hangs up; the caller's terminal raw meanwhile, then restored. */
void oci_tty_relay(int master, bool forward_stdin);
