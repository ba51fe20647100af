#include "vmm/api.h"

#include <errno.h>

int api_server_create(struct vm *vm, const char *path, struct api_server **ret,
		      struct hull_err *err)
{
	return hull_err_setx(err, ENOTSUP, "--api-sock: not implemented yet");
}

void api_server_free(struct api_server *a)
{
}
