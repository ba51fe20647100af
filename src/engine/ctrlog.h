#pragma once
/*
 * A container's output log, containers/<id>/ctr.log (docker's json-file log in spirit): one
 * record per line, "<RFC 3339 time> <stdout|stderr> <F|P> <text>", P when the text had no
 * newline yet (the next record continues it). Written by the monitor of a detached container
 * and by a foreground `hull run`/`start -a`, read by `hull logs`.
 */
#include <stdbool.h>
#include <stddef.h>

/* Open (create) dir/ctr.log for appending; returns the fd or -errno. */
int ctr_log_open(const char *dir);

/* Append buf as records of stream ("stdout" or "stderr"), in one write(2). */
void ctr_log_chunk(int log_fd, const char *stream, const char *buf, size_t len);

/*
 * Copy the container's stdout and stderr pipes (out_fd, err_fd; -1 for none) into the log
 * until both reach end of file, that is until every process of the container that held them
 * has exited. With pass_through, each is also written to our own stdout/stderr (1 and 2).
 * When that write fails (EPIPE: the reader went away; the caller ignores SIGPIPE), the pipe
 * from the container is closed, so that its next write gets SIGPIPE/EPIPE just as if it
 * wrote to our stdout itself (`hull run IMG yes | head -1` ends). Closes out_fd and err_fd.
 */
void ctr_log_relay(int log_fd, int out_fd, int err_fd, bool pass_through);
