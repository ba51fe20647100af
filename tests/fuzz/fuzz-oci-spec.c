/*
 * Fuzz target for the OCI config.json parser and validator (libFuzzer), with a replay main for
 * builds without libFuzzer: `fuzz-oci-spec-replay FILE...` parses each file once.
 *
 * config.json comes from whoever calls the runtime (podman, containerd, a user): every
 * malformed, mistyped or oversized document must end in an error, never a crash or a leak.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err = { 0 };
	struct oci_spec *spec = NULL;

	if (spec_parse((const char *)data, size, "config.json", "/fuzz-bundle", &spec,
			   &err) == 0) {
		/* What parses is written back, and what the writer writes parses again. */
		char *text = spec_dump(spec);
		struct oci_spec *again = NULL;

		if (spec_parse(text, strlen(text), "config.json", "/fuzz-bundle", &again, &err) < 0)
			abort();
		spec_free(again);
		free(text);
		spec_free(spec);
	}
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "common/fd.h"

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *buf = NULL;
		size_t len = 0;

		if (fd_read_file_at(AT_FDCWD, argv[i], 16 << 20, &buf, &len) < 0) {
			fprintf(stderr, "fuzz-oci-spec-replay: cannot read %s\n", argv[i]);
			return 1;
		}
		(void)LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		free(buf);
	}
	return 0;
}
#endif
