#include "common/ident.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool ident_name_is_valid(const char *name, size_t max)
{
	size_t len = strlen(name);

	if (len == 0 || len > max || !is_alnum(name[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

void ident_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[64];

	/* one getrandom call of at most 256 bytes never returns short (getrandom(2)) */
	if (nbytes > sizeof(b) || getrandom(b, nbytes, 0) != (ssize_t)nbytes)
		abort();
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}
