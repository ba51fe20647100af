/* The host side of the guest agent (vm-agent.h): stubs until the client lands. */
#include <errno.h>

#include "engine/vm-agent.h"

int vm_agent_connect(uint32_t cid, int timeout_ms, int *ret_fd, struct vm_agent_hello *ret_hello,
		     struct hull_err *err)
{
	return hull_err_setx(err, ENOSYS, "vm agent: not implemented yet");
}

int vm_agent_hello(int fd, int timeout_ms, struct vm_agent_hello *ret_hello, struct hull_err *err)
{
	return hull_err_setx(err, ENOSYS, "vm agent: not implemented yet");
}

int vm_agent_session(int fd, bool exec, const struct vm_agent_proc *p, const int stdio[3],
		     int ctl_fd, struct hull_err *err)
{
	return hull_err_setx(err, ENOSYS, "vm agent: not implemented yet");
}

int vm_agent_ctl_winsize(int ctl_wfd, uint16_t rows, uint16_t cols)
{
	return -ENOSYS;
}

int vm_agent_ctl_signal(int ctl_wfd, int sig)
{
	return -ENOSYS;
}

int vm_agent_signal(uint32_t cid, int sig, int timeout_ms, struct hull_err *err)
{
	return hull_err_setx(err, ENOSYS, "vm agent: not implemented yet");
}

int vm_agent_proc_encode(const struct vm_agent_proc *p, uint8_t *buf, size_t cap)
{
	return -ENOSYS;
}
