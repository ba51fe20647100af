#pragma once
/* Waiting for a child process the way a shell reports it. */
#include <sys/types.h>

/* Reap pid (waitpid, retried on EINTR): its exit status, 128+N when signal N killed it (as a
 * shell and docker report it), or -errno when it cannot be waited for. */
int child_wait(pid_t pid);
