#pragma once
/* One parser for signal names and numbers: what `kill -l` knows, and docker's/runc's forms. */

#include <stddef.h>

/*
 * "TERM", "SIGterm", "15", "RTMIN", "SIGRTMIN+3", "RTMAX-2", "IOT", "CLD", "POLL": any case,
 * with or without "SIG". The signal number, or -EINVAL (0 and numbers >= _NSIG included).
 */
int signal_parse(const char *s);

/* "SIGTERM", "SIGRTMIN+3", "SIGRTMAX" (the name `kill -l` prints) into buf; -EINVAL if none */
int signal_format(int sig, char *buf, size_t len);
