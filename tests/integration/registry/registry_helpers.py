"""Registries on 127.0.0.1 for the registry tests: Debian's docker-registry (distribution 2.8)
run as a subprocess with its own config, and a fault-injecting proxy with a bearer token
front, both made and stopped by the tests (a unique module name: pytest shares sys.path)."""
import base64
import hashlib
import http.client
import http.server
import io
import json
import os
import pathlib
import socket
import socketserver
import ssl
import subprocess
import tarfile
import threading
import time

REGISTRY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"registry exited {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Registry:
    """docker-registry serve CONFIG, storage in a tmp dir; stop() kills it."""

    def __init__(self, tmp: pathlib.Path, htpasswd=None, tls=None, clientca=None):
        self.dir = tmp
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        cfg = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
               f"    rootdirectory: {tmp / 'data'}", "  delete:", "    enabled: true",
               "http:", f"  addr: 127.0.0.1:{self.port}", "  secret: hulltest"]
        if tls:
            cfg += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
            if clientca:  # client certificates signed by it are required
                cfg += ["    clientcas:", f"      - {clientca}"]
        if htpasswd:
            cfg += ["auth:", "  htpasswd:", "    realm: hull-test", f"    path: {htpasswd}"]
        (tmp / "config.yml").write_text("\n".join(cfg) + "\n")
        self.log = open(tmp / "registry.log", "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(tmp / "config.yml")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()


def htpasswd(path: pathlib.Path, user: str, password: str):
    subprocess.run(["htpasswd", "-Bbc", str(path), user, password], check=True,
                   capture_output=True)


def make_ca(d: pathlib.Path):
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""
    def ssl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=hull test CA")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf")
    return d / "ca.crt", d / "srv.crt", d / "srv.key"


def make_client_cert(d: pathlib.Path, name="client"):
    """A client certificate signed by make_ca(d)'s CA: (NAME.cert, NAME.key)."""
    def ssl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
        f"{name}.csr", "-subj", f"/CN={name}")
    (d / "cli.cnf").write_text("extendedKeyUsage=clientAuth\n")
    ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.cert", "-days", "2", "-extfile", "cli.cnf")
    return d / f"{name}.cert", d / f"{name}.key"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, headers, body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        px = self.server.px
        px.log.append((self.command, self.path))
        if self.path.startswith("/token"):
            return self.token()
        if px.token is not None and self.path.startswith("/v2/"):
            if self.headers.get("Authorization") != f"Bearer {px.token}":
                realm = px.realm or f"{px.scheme}://127.0.0.1:{px.port}/token"
                scope = ""
                parts = self.path.split("/")
                if len(parts) > 3:
                    name = "/".join(parts[2:-2])
                    scope = f',scope="repository:{name}:pull,push"'
                self._body()
                return self._send(401, [("WWW-Authenticate",
                                         f'Bearer realm="{realm}",service="hull-test"{scope}'),
                                        ("Content-Length", "0")])
        fault = px.fault(self.command, self.path)
        if isinstance(fault, tuple) and fault[0] == "redirect":
            self._body()
            return self._send(307, [("Location", fault[1]), ("Content-Length", "0")])
        if isinstance(fault, tuple) and fault[0] == "serve":
            self._body()
            return self._send(200, [("Content-Type", fault[2]),
                                    ("Content-Length", str(len(fault[1])))], fault[1])
        if fault == "429":
            self._body()
            return self._send(429, [("Retry-After", "0"), ("Content-Length", "0")])
        if fault == "500":
            self._body()
            return self._send(500, [("Content-Length", "0")])
        if fault in ("401", "403", "404"):
            self._body()
            body = json.dumps({"errors": [{"code": "DENIED", "message": f"test says {fault}"}]})
            return self._send(int(fault), [("Content-Length", str(len(body))),
                                           ("Content-Type", "application/json")], body.encode())
        body = self._body()
        c = http.client.HTTPConnection("127.0.0.1", px.upstream, timeout=30)
        # the Host stays ours: the registry builds upload Locations from it
        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        hdrs["X-Forwarded-Proto"] = px.scheme
        c.request(self.command, self.path, body=body or None, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        c.close()
        headers = [(k, v) for k, v in r.getheaders()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        if fault == "digest" and data:
            data = bytes([data[0] ^ 1]) + data[1:]
        if fault == "long" and data:
            data = data + b"x" * 100
        if isinstance(fault, tuple) and fault[0] == "location":
            # the upload goes on at another origin (fault[1]: "http://127.0.0.1:PORT")
            headers = [(k, fault[1] + "/" + v.split("/", 3)[3] if k.lower() == "location"
                        else v) for k, v in headers]
        if fault == "manifest-lie" and data:
            data = data.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
        if fault in ("cut", "slow") and len(data) > 4:
            headers.append(("Content-Length", str(len(data))))
            self.send_response(r.status)
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            if fault == "slow":
                time.sleep(px.slow_s)
            self.close_connection = True
            return
        headers.append(("Content-Length", str(len(data))))
        self._send(r.status, headers, data)

    def token(self):
        px = self.server.px
        auth = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(f"{px.user}:{px.password}".encode()).decode()
        if px.user and auth != want:
            return self._send(401, [("Content-Length", "0")])
        px.scopes.append(self.path)
        body = json.dumps({"token": px.token}).encode()
        self._send(200, [("Content-Type", "application/json"),
                         ("Content-Length", str(len(body)))], body)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class Proxy:
    """In front of a registry: faults on chosen requests ({(method, path-substring): [fault,
    ...]} used once each, in order), and with token=... a bearer-token front and its
    token server (/token, basic auth user/password)."""

    def __init__(self, upstream_port, token=None, user=None, password=None, realm=None,
                 tls=None):
        self.upstream = upstream_port
        self.token, self.user, self.password = token, user, password
        self.realm = realm
        self.scheme = "https" if tls else "http"
        self.faults = {}
        self.log, self.scopes = [], []
        self.slow_s = 5
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.px = self
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def fault(self, method, path):
        for (m, sub), lst in self.faults.items():
            if m == method and sub in path and lst:
                return lst.pop(0)
        return None

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(timeout=10)


class _RecHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        rec = self.server.rec
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        rec.log.append((self.command, self.path, dict(self.headers.items()), body))
        status, headers = rec.answer
        self.send_response(status)
        for k, v in headers + [("Content-Length", "0")]:
            self.send_header(k, v)
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class Recorder:
    """Another origin on 127.0.0.1: records every request (method, path, headers, body)
    and answers answer = (status, [headers]) to each, with an empty body."""

    def __init__(self, answer=(401, [])):
        self.answer = answer
        self.log = []
        self.srv = _Server(("127.0.0.1", 0), _RecHandler)
        self.srv.rec = self
        self.port = self.srv.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def leaked(self, *secrets):
        """The requests that carried an Authorization header or one of the secrets."""
        out = []
        for m, p, hdrs, body in self.log:
            text = (p + repr(hdrs)).encode() + body
            if any(k.lower() == "authorization" for k in hdrs) or \
                    any(x.encode() in text for x in secrets):
                out.append((m, p, hdrs))
        return out

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(timeout=10)


def oci_image(d: pathlib.Path, layers, arch="amd64", bad_diff_id=False):
    """An OCI layout at d with one image per arch in layers ({arch: [tar bytes...]}); more
    than one arch makes an index with platforms. Returns d."""
    (d / "blobs/sha256").mkdir(parents=True, exist_ok=True)
    (d / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(data: bytes):
        h = hashlib.sha256(data).hexdigest()
        (d / "blobs/sha256" / h).write_bytes(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    mans = []
    for a, tars in layers.items():
        diff = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
        if bad_diff_id:
            diff[-1] = "sha256:" + "0" * 64
        cfg = {"architecture": a, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
               "rootfs": {"type": "layers", "diff_ids": diff}}
        if a == "arm64":
            cfg["variant"] = "v8"  # as real arm64 images say
        c = blob(json.dumps(cfg).encode())
        c["mediaType"] = "application/vnd.oci.image.config.v1+json"
        ls = []
        for t in tars:
            b = blob(t)
            b["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
            ls.append(b)
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": c, "layers": ls}
        m = blob(json.dumps(man).encode())
        m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
        m["platform"] = {"os": "linux", "architecture": a}
        if a == "arm64":
            m["platform"]["variant"] = "v8"
        mans.append(m)
    if len(mans) > 1:
        idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": mans}
        top = blob(json.dumps(idx).encode())
        top["mediaType"] = "application/vnd.oci.image.index.v1+json"
    else:
        top = mans[0]
        del top["platform"]
    top["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    (d / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return d


def push_multi_arch(registry, d: pathlib.Path, name="ma") -> str:
    """A two-platform index (amd64, arm64; /arch says which) pushed with skopeo to
    registry as NAME:latest; returns the reference."""
    lay = oci_image(d, {"amd64": [tar_of({"arch": b"amd64\n"})],
                        "arm64": [tar_of({"arch": b"arm64\n"})]})
    subprocess.run(["skopeo", "copy", "-q", "--all", f"oci:{lay}:latest",
                    f"docker://{registry.addr}/{name}:latest", "--dest-tls-verify=false"],
                   check=True, capture_output=True)
    return f"{registry.addr}/{name}:latest"


def tar_of(files) -> bytes:
    """A layer tar: {name: bytes}."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o755, 0
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def store_listing(root: pathlib.Path):
    """Every path under the store but tmp/, and index.json's content."""
    out = []
    for dp, dns, fns in os.walk(root):
        rel = os.path.relpath(dp, root)
        if rel == "tmp" or rel.startswith("tmp/"):
            continue
        out += [os.path.join(rel, n) for n in fns + dns]
    idx = root / "index.json"
    return sorted(out), idx.read_text() if idx.exists() else None


class Hull:
    """The hull binary on a private store, with a private auth file."""

    def __init__(self, binary: str, root: pathlib.Path, authfile: pathlib.Path):
        self.binary, self.root = binary, root
        self.env = dict(os.environ, HULL_ROOT=str(root), REGISTRY_AUTH_FILE=str(authfile),
                        HOME=str(root.parent), HULL_REGISTRY_TIMEOUT="3")

    def run(self, *args, check=True, input=None, timeout=120):
        r = subprocess.run([self.binary, *map(str, args)], capture_output=True, text=True,
                           env=self.env, input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"hull {' '.join(map(str, args))} exited {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def fails(self, *args, want=None):
        """A failure: exit 125 and one line on stderr naming want."""
        r = self.run(*args, check=False)
        assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        if want:
            assert want in lines[0], lines[0]
        return lines[0]

    def config_of(self, name):
        """The stored config of the image named name."""
        idx = json.loads((self.root / "index.json").read_text())
        for m in idx["manifests"]:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == name:
                man = json.loads(self.blob(m["digest"]))
                return json.loads(self.blob(man["config"]["digest"]))
        raise KeyError(name)

    def blob(self, digest):
        return (self.root / "blobs/sha256" / digest.split(":")[1]).read_bytes()
