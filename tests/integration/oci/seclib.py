"""Helpers for the capability, seccomp, terminal and scheduler tests (test_oci_caps.py,
test_oci_seccomp.py, test_oci_terminal.py, test_oci_sched.py)."""
import array
import json
import os
import socket
import struct
import threading

# runtime-spec names for the seccomp tests
ERRNO = "SCMP_ACT_ERRNO"
ALLOW = "SCMP_ACT_ALLOW"

CAP_SYS_ADMIN = 21


def status_caps(text):
    """{'CapInh': int, ...} from /proc/self/status text."""
    out = {}
    for line in text.splitlines():
        if line.startswith("Cap"):
            k, v = line.split(":", 1)
            out[k] = int(v.strip(), 16)
    return out


def cap_mask(names):
    from_name = {n: i for i, n in enumerate(CAP_NAMES)}
    m = 0
    for n in names:
        m |= 1 << from_name[n]
    return m


CAP_NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]


def recv_fd(conn, bufsize=65536):
    """One message and the fds it carries (SCM_RIGHTS); reads until the peer closes."""
    fds = array.array("i")
    data, anc, _flags, _addr = conn.recvmsg(bufsize, socket.CMSG_SPACE(16 * fds.itemsize))
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(cdata[:len(cdata) - (len(cdata) % fds.itemsize)])
    return data, list(fds)


# seccomp user notification (linux/seccomp.h)
NOTIF_SIZE = 80  # struct seccomp_notif
RESP_SIZE = 24   # struct seccomp_notif_resp
IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
FLAG_CONTINUE = 1


class Listener:
    """A seccomp agent at path: accepts one runtime connection, records the container
    process state and the notify fd, and answers every notification with `error` (a
    positive errno; 0 lets the syscall through with SECCOMP_USER_NOTIF_FLAG_CONTINUE)."""

    def __init__(self, path, error):
        import fcntl
        self.fcntl = fcntl
        self.path = str(path)
        self.error = error
        self.state = None
        self.fds = []
        self.notes = []  # syscall numbers seen
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(60)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            data, fds = recv_fd(conn)
            conn.settimeout(2)
            try:
                while True:
                    more = conn.recv(65536)
                    if not more:
                        break
                    data += more
            except OSError:
                pass
        self.state = json.loads(data)
        self.fds = fds
        if not fds:
            return
        nfd = fds[0]
        while True:
            buf = bytearray(NOTIF_SIZE)
            try:
                self.fcntl.ioctl(nfd, IOCTL_NOTIF_RECV, buf, True)
            except OSError:
                break  # the filter is gone: the container exited
            nid, _pid, _flags, nr = struct.unpack_from("=QIIi", buf)
            self.notes.append(nr)
            if self.error:
                resp = struct.pack("=QqiI", nid, 0, -self.error, 0)
            else:
                resp = struct.pack("=QqiI", nid, 0, 0, FLAG_CONTINUE)
            try:
                self.fcntl.ioctl(nfd, IOCTL_NOTIF_SEND, bytearray(resp), True)
            except OSError:
                pass

    def close(self):
        self.sock.close()
        self.thread.join(timeout=10)
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
