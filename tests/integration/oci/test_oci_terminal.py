"""process.terminal with --console-socket (issue 4 item 4): a pty whose master reaches the
console socket over SCM_RIGHTS, which is the container's controlling terminal, sized by
consoleSize, and bind-mounted on /dev/console, as runc does. Runtime-agnostic."""
import os
import select
import socket
import threading
import time

import pytest

from ocilib import sh
from seclib import recv_fd


class ConsoleServer:
    """A console socket: accepts the runtime's connection and keeps the pty master."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.name = None
        self.master = None
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            data, fds = recv_fd(conn, 4096)
            self.name = data
            self.master = fds[0] if fds else None
            for extra in fds[1:]:
                os.close(extra)

    def wait_master(self, timeout=30):
        self.t.join(timeout)
        assert self.master is not None, "no pty master received on the console socket"
        return self.master

    def read_until(self, needle: bytes, timeout=20):
        out = b""
        end = time.monotonic() + timeout
        while needle not in out and time.monotonic() < end:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    break  # EIO: the slave side is gone
                if not chunk:
                    break
                out += chunk
        return out

    def close(self):
        self.sock.close()
        if self.master is not None:
            os.close(self.master)


def terminal_bundle(bundle, script, size=(33, 101)):
    p = bundle.config["process"]
    p["terminal"] = True
    if size:
        p["consoleSize"] = {"height": size[0], "width": size[1]}
    p["args"] = sh(script)
    bundle.write()


SCRIPT = ("stty size; tty; echo stat=$(cut -d' ' -f6,7 /proc/self/stat) sid=$$; "
          "stat -c 'console=%t:%T' /dev/console; stat -c \"tty=%t:%T\" $(tty); "
          "echo ready; read line; echo got:$line")


@pytest.mark.parametrize("readonly", [False, True])
def test_console_socket_pty(rt, bundle, workdir, readonly):
    srv = ConsoleServer(workdir / "console.sock")
    bundle.config["root"]["readonly"] = readonly
    terminal_bundle(bundle, SCRIPT)
    cid = rt.new_id()
    try:
        r = rt("create", "--bundle", str(bundle.path), "--console-socket", srv.path, cid,
               timeout=30)
        assert r.returncode == 0, r.stderr
        srv.wait_master()
        assert rt("start", cid).returncode == 0
        out = srv.read_until(b"ready")
        os.write(srv.master, b"hello-pty\n")
        out += srv.read_until(b"got:hello-pty")
        rt.wait_status(cid, "stopped")
    finally:
        srv.close()
    text = out.decode(errors="replace").replace("\r", "")
    lines = text.splitlines()
    assert "33 101" in lines, text
    assert any(ln.startswith("/dev/pts/") for ln in lines), text
    # field 6 is the session id (= the shell's pid, it is the session leader), field 7 the
    # controlling tty (non-zero: the pty is the controlling terminal)
    stat = next(ln for ln in lines if ln.startswith("stat="))
    sid, tty_nr = stat[5:].split(" sid=")[0].split()
    assert int(tty_nr) != 0 and sid == stat.split("sid=")[1], stat
    console = next(ln for ln in lines if ln.startswith("console="))[8:]
    tty = next(ln for ln in lines if ln.startswith("tty="))[4:]
    assert console == tty, (console, tty)  # /dev/console is the pty slave
    assert "got:hello-pty" in text, text
    # runc sends the master with the name "/dev/ptmx" as the message body; any name is
    # fine for clients, but say what we send
    assert srv.name == b"/dev/ptmx", srv.name


def test_terminal_without_console_socket(rt, bundle):
    terminal_bundle(bundle, "true")
    cid = rt.new_id()
    r = rt.create(cid, bundle, check=False)
    assert r.returncode != 0
    assert "console" in r.stderr and "socket" in r.stderr, r.stderr
