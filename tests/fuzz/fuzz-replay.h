/*
 * Replay main shared by the fuzz targets: built with -DFUZZ_REPLAY (no libFuzzer), the
 * target becomes `NAME-replay FILE...`, which runs each file once through
 * LLVMFuzzerTestOneInput. Include it once, after the target's LLVMFuzzerTestOneInput.
 */
#ifndef HULL_FUZZ_REPLAY_H
#define HULL_FUZZ_REPLAY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef FUZZ_REPLAY
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf;
		long n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
			perror(argv[i]);
			fclose(f);
			return 1;
		}
		buf = malloc(n > 0 ? (size_t)n : 1);
		if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
			fclose(f);
			free(buf);
			return 1;
		}
		fclose(f);
		(void)LLVMFuzzerTestOneInput(buf, (size_t)n);
		free(buf);
	}
	return 0;
}
#endif

#endif
