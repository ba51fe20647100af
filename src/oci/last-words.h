#pragma once
/* The container init's last words on the container's own stderr (see last-words.c). */

/* "hull-oci: MSG" on fd 2, then _exit(code). */
void __attribute__((noreturn, format(printf, 2, 3))) init_last_words(int code, const char *fmt, ...);
/* runc's "exec PATH: reason" line on fd 2; exit 127 for a missing file, 126 otherwise (docker's
 * codes, as hull-oci-wait's exec_failed). */
void __attribute__((noreturn)) init_exec_failed(const char *path, int e);
