/* hull-oci: a runc-compatible OCI runtime. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0)) {
		printf("hull-oci version %s\nspec: 1.1.0\n", HULL_VERSION);
		return 0;
	}
	fprintf(stderr, "hull-oci: not implemented yet\n");
	return 1;
}
