#pragma once
/* NULL-terminated string vectors. */
#include <stddef.h>

void strv_free(char **v);
size_t strv_length(char *const *v);
/* Append a copy of s; *v may be NULL. */
void strv_push(char ***v, const char *s);
/* Append s itself, taking ownership. */
void strv_push_owned(char ***v, char *s);
char **strv_dup(char *const *v);
/* Index of s in v, or -1. */
int strv_find(char *const *v, const char *s);
