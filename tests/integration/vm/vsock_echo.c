/*
 * The guest side of test_vsock.py, built there with `gcc -static`: listen on a vsock port,
 * echo every byte of each of N connections back until the peer shuts its side down, then
 * exit (the init script powers off). Prints one line per stage on the console.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int echo(int c)
{
	static char buf[65536];
	unsigned long long total = 0;
	ssize_t n;

	while ((n = read(c, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, (size_t)(n - off));

			if (w <= 0)
				return -1;
			off += w;
		}
		total += (unsigned long long)n;
	}
	printf("HULL-VSOCK: echoed %llu bytes\n", total);
	fflush(stdout);
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	unsigned long conns;
	int s;

	if (argc != 3)
		return 2;
	a.svm_port = (unsigned)strtoul(argv[1], NULL, 10);
	conns = strtoul(argv[2], NULL, 10);
	s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0) {
		printf("HULL-VSOCK: listen failed: %s\n", strerror(errno));
		return 1;
	}
	printf("HULL-VSOCK: listening on %u\n", a.svm_port);
	fflush(stdout);
	for (unsigned long i = 0; i < conns; i++) {
		int c = accept(s, NULL, NULL);

		if (c < 0 || echo(c) < 0) {
			printf("HULL-VSOCK: connection failed: %s\n", strerror(errno));
			return 1;
		}
		close(c);
	}
	return 0;
}
