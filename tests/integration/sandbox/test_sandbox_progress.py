"""tests/sandbox/sandbox_progress.py's plan and junit against generated sessions: seeded random
suites where the VM stops in random tests, replayed as run-pytest replays them."""
import importlib.util
import json
import random
import xml.etree.ElementTree as ET

from sandbox_helpers import REPO

spec = importlib.util.spec_from_file_location("sandbox_progress",
                                              REPO / "tests/sandbox/sandbox_progress.py")
sp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sp)


def simulate(rng, log):
    """One suite of 1-12 tests with random outcomes; a test may stop the VM (once, or every
    time). Returns {nodeid: expected junit kind}."""
    n = rng.randint(1, 12)
    tests = [f"tests/x/test_m{i % 3}.py::test_{i}" for i in range(n)]
    outcome = {t: rng.choice(["passed", "passed", "failed", "skipped", "error"]) for t in tests}
    stops_left = {t: rng.choice([0, 0, 0, 1, 5]) for t in tests}
    deselected, vms = set(), 0
    with open(log, "w") as f:
        while True:
            vms += 1
            f.write("\n" + json.dumps({"ev": "session"}) + "\n")  # as Recorder writes it
            stopped = None
            for t in tests:
                if t in deselected:
                    continue
                f.write(json.dumps({"ev": "start", "id": t}) + "\n")
                if stops_left[t] > 0:
                    stops_left[t] -= 1
                    if rng.random() < 0.5:  # a torn last line
                        f.write('{"ev": "rep')
                    stopped = t
                    break
                o = outcome[t]
                when = "setup" if o == "error" else "call"
                rep = {"ev": "report", "id": t, "when": when, "dur": 0.1,
                       "outcome": "failed" if o == "error" else o, "text": "why"}
                f.write(json.dumps(rep) + "\n")
                f.write(json.dumps({"ev": "finish", "id": t}) + "\n")
            f.flush()
            if not stopped or vms >= 5:  # run-pytest's bound
                break
            done = sp.plan(log)
            assert done is not None
            deselected = set(done)
    expected = {}
    nstops = sp.stops(sp.read_log(log))
    for t in tests:
        if nstops.get(t, 0) >= sp.STOPS_MAX or t == stopped:
            expected[t] = None  # failed: the VM stopped in it twice, or in the last VM
        else:
            expected[t] = outcome[t]
    return tests, expected, nstops, vms


def test_generated_sessions(tmp_path):
    rng = random.Random(20261207)
    for case in range(400):
        log = tmp_path / f"log{case}"
        tests, expected, nstops, vms = simulate(rng, log)
        out = tmp_path / f"out{case}.xml"
        sp.junit(str(log), str(out))
        suite = ET.parse(out).getroot().find("testsuite")
        cases = {f'{c.get("classname")}::{c.get("name")}': c for c in suite.iter("testcase")}
        names = [f'{t.rpartition("::")[0].replace("/", ".").removesuffix(".py")}::'
                 f'{t.rpartition("::")[2]}' for t in tests]
        # every test that started is counted exactly once; none is counted twice
        assert len(cases) == int(suite.get("tests")) <= len(tests), case
        for t, name in zip(tests, names):
            c = cases.get(name)
            if c is None:
                assert vms >= 5, (case, t)  # only tests the bounded run never reached
                continue
            want = expected[t]
            if nstops.get(t, 0) >= sp.STOPS_MAX or want is None:
                assert c.find("failure") is not None, (case, t)
            elif want == "passed":
                assert len(c) == 0 or c[0].tag == "system-out", (case, t)
            elif want == "failed":
                assert c.find("failure") is not None, (case, t)
            elif want == "error":
                assert c.find("error") is not None, (case, t)
            else:
                assert c.find("skipped") is not None, (case, t)
        fails = sum(1 for c in cases.values() if c.find("failure") is not None)
        assert int(suite.get("failures")) == fails, case


def test_recorder_starts_a_session_on_a_line_of_its_own(tmp_path):
    log = tmp_path / "log"
    log.write_text('{"ev": "session"}\n{"ev": "start", "id": "a"}\n{"ev": "rep')  # torn
    rec = sp.Recorder(str(log))
    rec.pytest_sessionstart(None)
    rec.write(ev="start", id="a")
    rec.f.close()
    sessions = sp.read_log(str(log))
    assert len(sessions) == 2 and sp.stops(sessions) == {"a": 2}


def test_plan_when_the_vm_did_not_stop_in_a_test(tmp_path):
    log = tmp_path / "log"
    log.write_text('{"ev": "session"}\n{"ev": "start", "id": "a"}\n{"ev": "finish", "id": "a"}\n')
    assert sp.plan(str(log)) is None
    log.write_text("")
    assert sp.plan(str(log)) is None
