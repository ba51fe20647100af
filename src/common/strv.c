#include "common/strv.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_length(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

void strv_push_owned(char ***v, char *s)
{
	size_t n = strv_length(*v);

	*v = xreallocarray(*v, n + 2, sizeof(char *));
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

void strv_push(char ***v, const char *s)
{
	strv_push_owned(v, xstrdup(s));
}

char **strv_dup(char *const *v)
{
	size_t n = strv_length(v);
	char **r = xcalloc(n + 1, sizeof(char *));

	for (size_t i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

int strv_find(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return (int)i;
	return -1;
}
