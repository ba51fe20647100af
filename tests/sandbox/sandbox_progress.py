"""The sandbox suite's progress log, and what run-pytest does with it when the VM dies.

Inside the sandbox VM, run-pytest loads this file as a pytest plugin (`-p sandbox_progress`),
which registers Recorder when $HULL_SANDBOX_PROGRESS names a file (run-pytest sets it, in the
results directory the host shares read-write): one JSON line per event, flushed at once, so that the host still knows
which tests ended, and how, when the VM stops in the middle of the session (a guest reset of the
TCG VM, docs/sandbox.md) and pytest never writes its junit file.

On the host, run-pytest calls this file as a program:
  sandbox_progress.py plan LOG     after a VM that stopped while a test ran: print the pytest
                           arguments for a new VM (--deselect for every test that ended, and
                           for a test the VM stopped in twice); exit 1 when there is no test to
                           resume (the VM did not stop in a test, or nothing is left)
  sandbox_progress.py junit LOG XML [MSG]  write the junit file of all sessions in LOG (MSG: one
                           failed case more, for a last VM that failed outside a test)
"""
import json
import os
import sys
import time
from xml.sax.saxutils import escape, quoteattr

TEXT_MAX = 20000
STOPS_MAX = 2  # a test the VM stopped in this often counts as failed and is not run again


class Recorder:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")

    def write(self, lead="", **rec):
        rec["t"] = round(time.time(), 3)
        self.f.write(lead + json.dumps(rec) + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())

    def pytest_sessionstart(self, session):
        # On a line of its own: a VM that stopped mid-write left a torn line without "\n".
        self.write(lead="\n", ev="session")

    def pytest_collectreport(self, report):
        if report.failed:
            self.write(ev="collect", id=report.nodeid, text=str(report.longrepr)[-TEXT_MAX:])

    def pytest_runtest_logstart(self, nodeid, location):
        self.write(ev="start", id=nodeid)

    def pytest_runtest_logreport(self, report):
        rec = dict(ev="report", id=report.nodeid, when=report.when, outcome=report.outcome,
                   dur=round(report.duration, 3))
        if report.failed:
            rec["text"] = report.longreprtext[-TEXT_MAX:]
        elif report.skipped and isinstance(report.longrepr, tuple):
            rec["text"] = str(report.longrepr[2])
        self.write(**rec)

    def pytest_runtest_logfinish(self, nodeid, location):
        self.write(ev="finish", id=nodeid)


def pytest_configure(config):
    path = os.environ.get("HULL_SANDBOX_PROGRESS")
    if path:
        config.pluginmanager.register(Recorder(path), "sandbox_progress_recorder")


def read_log(path):
    """Sessions as lists of records; a torn last line (the VM stopped mid-write) is dropped."""
    sessions = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("ev") == "session" or not sessions:
                sessions.append([])
            sessions[-1].append(rec)
    return sessions


def stops(sessions):
    """{nodeid: times the VM stopped while it ran}: a start without a finish in a session
    that ended without the test finishing (only the last started test of a session can be)."""
    n = {}
    for recs in sessions:
        started = [r["id"] for r in recs if r["ev"] == "start"]
        finished = {r["id"] for r in recs if r["ev"] == "finish"}
        if started and started[-1] not in finished:
            n[started[-1]] = n.get(started[-1], 0) + 1
    return n


def plan(path):
    sessions = read_log(path)
    if not sessions:
        return None
    last = sessions[-1]
    started = [r["id"] for r in last if r["ev"] == "start"]
    finished = {r["id"] for s in sessions for r in s if r["ev"] == "finish"}
    if not started or started[-1] in finished:
        return None  # the VM did not stop inside a test
    done = set(finished)
    for nodeid, count in stops(sessions).items():
        if count >= STOPS_MAX:
            done.add(nodeid)
    return sorted(done)


def times(n):
    return "once" if n == 1 else f"{n} times"


def outcome_of(nodeid, sessions, nstops):
    """(kind, message, text, seconds) for the junit file: kind in passed/failed/error/skipped."""
    reports = [r for s in sessions for r in s if r["ev"] == "report" and r["id"] == nodeid]
    # Only the reports of the last session that ran it (a test resumed after a stop runs again).
    for s in reversed(sessions):
        mine = [r for r in s if r["ev"] == "report" and r["id"] == nodeid]
        if mine:
            reports = mine
            break
    secs = sum(r.get("dur", 0) for r in reports)
    finished = any(r["ev"] == "finish" and r["id"] == nodeid for s in sessions for r in s)
    if not finished:
        return ("failed", f"the sandbox VM stopped {times(nstops)} while this test ran "
                          "(docs/sandbox.md)", "", secs)
    for r in reports:
        if r["outcome"] == "failed":
            kind = "failed" if r["when"] == "call" else "error"
            return (kind, f"{r['when']} failed", r.get("text", ""), secs)
    for r in reports:
        if r["outcome"] == "skipped":
            return ("skipped", r.get("text", "skipped"), "", secs)
    return ("passed", "", "", secs)


def junit(path, out, lost=""):
    sessions = read_log(path)
    nstops = stops(sessions)
    order, seen = [], set()
    for s in sessions:
        for r in s:
            if r["ev"] in ("start", "collect") and r["id"] not in seen:
                seen.add(r["id"])
                order.append(r)
    cases, counts = [], {"failed": 0, "error": 0, "skipped": 0}
    for r in order:
        nodeid = r["id"]
        if r["ev"] == "collect":
            kind, msg, text, secs = "error", "collection failed", r.get("text", ""), 0
        else:
            kind, msg, text, secs = outcome_of(nodeid, sessions, nstops.get(nodeid, 0))
        if kind in counts:
            counts[kind] += 1
        mod, _, name = nodeid.rpartition("::")
        body = ""
        if kind == "failed":
            body = f"<failure message={quoteattr(msg)}>{escape(text)}</failure>"
        elif kind == "error":
            body = f"<error message={quoteattr(msg)}>{escape(text)}</error>"
        elif kind == "skipped":
            body = f"<skipped message={quoteattr(msg)}/>"
        if nstops.get(nodeid) and kind != "failed":
            note = (f"the sandbox VM stopped {times(nstops[nodeid])} while this test ran; "
                    "it ran again in a new VM")
            body += f"<system-out>{escape(note)}</system-out>"
        cases.append(f'<testcase classname={quoteattr(mod.replace("/", ".").removesuffix(".py"))} '
                     f'name={quoteattr(name or nodeid)} time="{secs:.3f}">{body}</testcase>')
    if lost:  # the last VM failed outside a test: what it did not run cannot be counted
        counts["failed"] += 1
        cases.append(f'<testcase classname="tests.sandbox" name="sandbox_vm">'
                     f'<failure message={quoteattr(lost)}/></testcase>')
    props = "".join(f'<property name="sandbox_vm_stop" value={quoteattr(k)}/>' for k in nstops)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="sandbox" '
                f'tests="{len(cases)}" failures="{counts["failed"]}" errors="{counts["error"]}" '
                f'skipped="{counts["skipped"]}" sessions="{len(sessions)}">'
                f'<properties>{props}</properties>' + "".join(cases) + "</testsuite></testsuites>\n")
    os.replace(tmp, out)


def main(argv):
    if len(argv) == 3 and argv[1] == "plan":
        done = plan(argv[2])
        if done is None:
            return 1
        for nodeid in done:
            print(f"--deselect={nodeid}")
        return 0
    if len(argv) in (4, 5) and argv[1] == "junit":
        junit(argv[2], argv[3], argv[4] if len(argv) == 5 else "")
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
