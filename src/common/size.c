/* Byte sizes: docker's, runc's and qemu-img's grammars in one place (see size.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/size.h"

/* 1024^k for the suffix letter c in units, or 0 when c is not one */
static uint64_t suffix_mul(char c, const char *units)
{
	const char *u = c ? strchr(units, toupper((unsigned char)c)) : NULL;
	uint64_t m = 1;

	if (!u)
		return 0;
	for (long i = 0; i < u - units; i++)
		m <<= 10;
	return m;
}

static int parse_docker(const char *s, int64_t *ret)
{
	const char *p = s;
	long double v = 0, scale = 1;
	uint64_t mul = 1;
	int digits = 0;

	for (; isdigit((unsigned char)*p); p++, digits++)
		v = v * 10 + (*p - '0');
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -EINVAL;
		for (p++; isdigit((unsigned char)*p); p++)
			v += (*p - '0') / (scale *= 10);
	}
	if (digits == 0)
		return -EINVAL;
	if (*p == ' ')
		p++;
	/* "B" is not a unit here: "[kmgtp]?[i]?[b]?" */
	if (*p && toupper((unsigned char)*p) != 'B' && (mul = suffix_mul(*p, "BKMGTP")))
		p++;
	else
		mul = 1;
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	v *= mul;
	if (v >= 9223372036854775808.0L)
		return -ERANGE;
	*ret = (int64_t)v;
	return 0;
}

/* qemu's do_strtosz() with the default suffix B and unit 1024, end == NULL */
static int parse_qemu(const char *s, int64_t *ret)
{
	char *end = NULL;
	unsigned long long val;
	__uint128_t frac = 0, r;
	uint64_t mul;

	errno = 0;
	val = strtoull(s, &end, 10);
	if (end == s || memchr(s, '-', (size_t)(end - s)))
		return -EINVAL;
	if (errno)
		return -ERANGE;
	if (val == 0 && (*end == 'x' || *end == 'X')) {
		errno = 0;
		val = strtoull(s, &end, 16);
		if (errno == ERANGE)
			return -ERANGE;
		if (*end == '.')
			return -EINVAL; /* hex takes no fraction (a suffix: deprecated, still taken) */
	} else if (*end == '.') {
		char *fend = NULL;
		double f;

		errno = 0;
		f = strtod(end, &fend);
		if (fend == end || errno || !isfinite(f))
			fend = end + 1; /* "1.k": a bare point is allowed */
		else if (memchr(end, 'e', (size_t)(fend - end)) || memchr(end, 'E', (size_t)(fend - end)))
			return -EINVAL;
		else /* ".99999999999999999999" reads as 1.0, whose 64-bit fraction qemu-img
		      * (x86-64) computes as 0: keep the cast defined and the answer the same */
			frac = f >= 1.0 ? 0 : (__uint128_t)(uint64_t)(f * 0x1p64);
		end = fend;
	}
	mul = suffix_mul(*end, "BKMGTPE");
	if (mul)
		end++;
	else
		mul = 1;
	if (*end)
		return -EINVAL;
	if (mul == 1 && frac)
		return -EINVAL; /* a fraction needs a scale */
	r = (__uint128_t)val * mul;
	frac *= mul; /* 64.64 fixed point: the high half is whole bytes, the low half rounds */
	r += frac >> 64;
	if ((uint64_t)frac >> 63)
		r++;
	if (r > INT64_MAX)
		return -ERANGE;
	*ret = (int64_t)r;
	return 0;
}

int size_parse(const char *s, enum size_grammar g, int64_t *ret)
{
	if (!s)
		return -EINVAL;
	switch (g) {
	case SIZE_RUNC:
		if (strcmp(s, "-1") == 0) {
			*ret = -1;
			return 0;
		}
		return parse_docker(s, ret);
	case SIZE_DOCKER:
		return parse_docker(s, ret);
	case SIZE_QEMU:
		return parse_qemu(s, ret);
	}
	return -EINVAL;
}
