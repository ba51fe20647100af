#pragma once
/* One parser for byte sizes, in the grammars of the tools whose flags hull mirrors. */

#include <stdint.h>

enum size_grammar {
	/* docker (go-units RAMInBytes): DIGITS[.DIGITS][ ][kmgtp][i][b], any case, 1024-based */
	SIZE_DOCKER,
	/* runc update: docker's grammar, plus "-1" for "unlimited" (*ret = -1) */
	SIZE_RUNC,
	/* qemu-img 7.2 (qemu_strtosz): DIGITS[.DIGITS][BKMGTPE] or 0xHEX[KMGTP], any case, 1024-based;
	 * a fraction needs a suffix other than B; rounds half up */
	SIZE_QEMU,
};

/* 0 and *ret, -EINVAL for text outside the grammar, -ERANGE above INT64_MAX. */
int size_parse(const char *s, enum size_grammar g, int64_t *ret);
