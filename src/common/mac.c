#include "common/mac.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_parse(const char *s, uint8_t out[6])
{
	unsigned any = 0;

	if (!s || strlen(s) != MAC_STR_LEN - 1)
		return -EINVAL;
	for (size_t i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
		any |= out[i];
	}
	/* a group address is a destination, never a NIC's own; all zeros is no address */
	return (out[0] & 1) || !any ? -EINVAL : 0;
}

void mac_format(const uint8_t mac[6], char out[MAC_STR_LEN])
{
	(void)snprintf(out, MAC_STR_LEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		       mac[3], mac[4], mac[5]);
}
