#pragma once
/*
 * hull-oci-wait (waiter/waiter.c) in a sealed memfd, for execveat(AT_EMPTY_PATH): what the
 * container's init waits in until `start`, and what runs exec's last steps. Internal to
 * src/oci.
 */
#include <sys/types.h>

#include "common/error.h"

/*
 * A fresh close-on-exec memfd holding the waiter, with the given mode (0111 for exec: see
 * exec-child.c), sealed against any change (F_SEAL_WRITE|GROW|SHRINK|SEAL). Returns the fd.
 */
int waiter_memfd(mode_t mode, struct hull_err *err);
