/*
 * ENTROPY (proto.h, cloud18): the host's random bytes into a guest restored from the warm
 * snapshot. Every clone of one snapshot wakes with the random state the snapshot captured; a
 * kernel with VMGENID reseeds when the generation ID changes, one without (Debian's cloud
 * flavour) would go on drawing the same stream in every clone until its next timed reseed.
 * The agent credits the bytes to the input pool (RNDADDENTROPY: CAP_SYS_ADMIN, PID 1 has it)
 * and forces the CRNG to reseed from it at once (RNDRESEEDCRNG, Linux 4.17), before RUN's
 * process starts, on every kernel (random(4)).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent.h"
#include "proto.h"

size_t agent_entropy_pool(const uint8_t *pl, uint32_t len, void *out, size_t cap)
{
	struct rand_pool_info *info = out;
	size_t need = sizeof(*info) + len;

	if (len < HULL_AGENT_ENTROPY_MIN || len > HULL_AGENT_ENTROPY_MAX || cap < need)
		return 0;
	info->entropy_count = (int)(len * 8); /* bits: the host's getrandom is full entropy */
	info->buf_size = (int)len;
	memcpy(info->buf, pl, len);
	return need;
}

int agent_entropy(const uint8_t *pl, uint32_t len)
{
	/* int-aligned for struct rand_pool_info's header */
	int pool[(sizeof(struct rand_pool_info) + HULL_AGENT_ENTROPY_MAX) / sizeof(int) + 1];
	int fd, r = 0;

	if (!agent_entropy_pool(pl, len, pool, sizeof(pool)))
		return -EINVAL;
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, RNDADDENTROPY, pool) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
		r = -errno;
	(void)close(fd);
	explicit_bzero(pool, sizeof(pool));
	return r;
}
