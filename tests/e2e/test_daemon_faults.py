# SPDX-License-Identifier: Apache-2.0
"""`nftgate run` under faults (issue 7): the kernel refusing a reconcile, nftables
notifications lost (ENOBUFS), the state directory unwritable. (A table deleted under the
agent is test_daemon.py::test_deleted_table_is_recreated.)

The refusals and the lost notifications are real kernel behaviour, brought about by the
test binary build/tests/nftgate-faults (tests/faults/nftgate_faults.c, NFTGATE_FAULTS):
it spoils a message of the daemon's batch so that the kernel refuses and aborts the
transaction, and cuts the notification socket's buffer so that the kernel drops what does
not fit. Progress is read from the daemon's JSON log lines; every wait is bounded.
"""
import itertools
import os
import re
import signal
import stat
import time
from datetime import datetime, timezone

import pytest

from netns import nftgate_binary
from test_daemon import (FOO_PODS, add_pods, listing, pods_answering, service_doc,
                         slice_doc, start, wait_pods, write_backends, write_yaml)
from test_daemon import inputs  # noqa: F401 (the fixture: a directory of manifests)
from test_kernel import FAULTS

METRICS_URL = "http://127.0.0.1:10266"
FAILED = "reconcile failed; the kernel keeps the last good ruleset"
LOST = "notifications lost; the table is as committed"
UNHEARD = "another commit ran during a full replace; the table is as committed"


@pytest.fixture
def faults_bin():
    if not os.access(FAULTS, os.X_OK):
        pytest.skip("%s is not built (make faults)" % FAULTS)
    return FAULTS


def get(sb, path):
    """(status, body) of GET path on the daemon's listener, from inside the node."""
    out = sb.exec(sb.node, ["curl", "-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}",
                            METRICS_URL + path]).stdout
    body, _, code = out.rpartition("\n")
    return int(code), body


def metric(sb, name):
    code, text = get(sb, "/metrics")
    assert code == 200, (code, text)
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    assert m, "no %s in:\n%s" % (name, text)
    return float(m.group(1))


def wait_at(d, pred, since, what, timeout=15.0):
    """Like Daemon.wait, also giving the event's index (to wait for what comes after)."""
    e = d.wait(pred, since, timeout, what)
    with d.cond:
        return next(i for i, x in enumerate(d.events) if x is e), e


def refusals_amid_noise(d, since, n, noise, timeout=15.0):
    """The first n refused reconciles since `since`, as (index, event); until they are
    logged, noise (a file nftgate does not read, in a watched directory) is written every
    few milliseconds: events that change no object, which must not cut a backoff short."""
    deadline = time.monotonic() + timeout
    for k in itertools.count():
        with d.cond:
            got = [(i, e) for i, e in enumerate(d.events[since:], since)
                   if e.get("msg") == FAILED]
        if len(got) >= n:
            return got[:n]
        assert time.monotonic() < deadline and d.proc.poll() is None, \
            "%d of %d refusals within %.0fs; log:\n%s" % (len(got), n, timeout, d.log_text())
        noise.write_text("%d\n" % k)
        time.sleep(0.01)


def msgs_since(d, since, msg):
    with d.cond:
        return [e for e in d.events[since:] if e.get("msg") == msg]


def ts(e):
    """The log line's time (UTC, milliseconds) in seconds."""
    return datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


# ---- the kernel refuses a reconcile ---------------------------------------------------------


def test_refused_reconcile_keeps_the_old_rules_and_retries(sandbox, inputs, faults_bin,
                                                         monkeypatch, tmp_path):
    gate = tmp_path / "refuse"
    monkeypatch.setenv("NFTGATE_FAULTS", "refuse-while=%s" % gate)
    add_pods(sandbox)
    d = start(sandbox, inputs, binary=faults_bin)
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    assert get(sandbox, "/readyz") == (200, "ready\n")
    assert metric(sandbox, "nftgate_reconcile_failures_total") == 0
    before = listing(sandbox)

    # from now on the kernel refuses every transaction the daemon sends
    gate.touch()
    m = d.mark()
    # one file changes objects; every try after the first must be a retry
    foo3 = {"foo-3": FOO_PODS["foo-3"]}
    write_yaml(inputs / "foo.yaml", [service_doc("my-foo-service", 7000),
                                     slice_doc("my-foo-service", 4, 7000, foo3),
                                     slice_doc("my-foo-service", 6, 7000, foo3)])
    fails = refusals_amid_noise(d, m, 4, inputs / "notes.txt")
    at = fails[-1][0] + 1
    fails = [e for _, e in fails]
    for f in fails:
        assert f["msgs"] > 0 and "Invalid argument" in f["error"], f
        assert "nothing was changed" in f["error"], f
    # jittered exponential backoff: the next delay doubles each time, and a timer never
    # fires early, so the gap between two tries is at least 3/4 of the delay announced
    # (log times are in milliseconds), however many unrelated events came meanwhile
    delays = [f["retry_s"] for f in fails]
    assert delays[0] == pytest.approx(0.1) and all(
        b == pytest.approx(2 * a) for a, b in zip(delays, delays[1:])), delays
    for a, b in zip(fails, fails[1:]):
        assert ts(b) - ts(a) >= 0.75 * a["retry_s"] - 0.002, (a, b)
    # meanwhile the kernel keeps the old ruleset, and the old backends keep the traffic
    assert listing(sandbox) == before
    assert pods_answering(sandbox, 8080) == {"foo-1", "foo-2"}
    seen = len(msgs_since(d, m, FAILED))
    assert metric(sandbox, "nftgate_reconcile_failures_total") >= seen >= 4
    code, why = get(sandbox, "/readyz")
    assert code == 503 and "the last reconcile failed" in why and "Invalid argument" in why, \
        (code, why)

    # the kernel accepts again: the next retry commits
    gate.unlink()
    _, ok = wait_at(d, lambda x: x.get("msg") == "reconcile", at, "the retry that commits",
                    timeout=45)   # past the longest backoff (30 s)
    assert ok["msgs"] > 0 and not ok["replaced"], ok
    wait_pods(sandbox, 8080, {"foo-3"})
    assert get(sandbox, "/readyz") == (200, "ready\n")
    # every refusal logged before the commit was counted, and nothing else
    assert metric(sandbox, "nftgate_reconcile_failures_total") == len(msgs_since(d, m, FAILED))
    assert d.stop() == 0


# ---- lost notifications ---------------------------------------------------------------------


def stopped(pid, timeout=10.0):
    """Polls (bounded) until the process is in the stopped state."""
    deadline = time.monotonic() + timeout
    while True:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
        if state in ("T", "t"):
            return
        assert time.monotonic() < deadline, "pid %d not stopped (state %s)" % (pid, state)
        time.sleep(0.01)


def flood(sb, n, tag):
    """n transactions on tables that are not ours: notifications enough to overflow the cut
    buffer many times over (each is at least two notification messages)."""
    for i in range(n):
        sb.nft("add", "table", "inet", "ngt-scratch-%s-%d" % (tag, i))
    for i in range(n):
        sb.nft("delete", "table", "inet", "ngt-scratch-%s-%d" % (tag, i))


def while_stopped(d, *actions):
    """Runs actions while the daemon cannot read its notifications (SIGSTOP ... SIGCONT)."""
    d.proc.send_signal(signal.SIGSTOP)
    try:
        stopped(d.proc.pid)
        for a in actions:
            a()
    finally:
        d.proc.send_signal(signal.SIGCONT)


def test_lost_notifications_are_checked_by_generation(sandbox, inputs, faults_bin,
                                                    monkeypatch):
    monkeypatch.setenv("NFTGATE_FAULTS", "lose-events")
    add_pods(sandbox)
    d = start(sandbox, inputs, binary=faults_bin)
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    before = listing(sandbox)

    # lost, and only other tables changed: the table is dumped and found as committed;
    # nothing is sent
    m = d.mark()
    while_stopped(d, lambda: flood(sandbox, 6, "a"))
    i, e = wait_at(d, lambda x: x.get("msg") == LOST and x.get("dumped"), m,
                   "the check after lost notifications")
    assert not msgs_since(d, m, "drift repaired"), d.log_text()
    assert listing(sandbox) == before
    assert metric(sandbox, "nftgate_drift_repairs_total") == 0

    # lost, and among them a foreign edit of our table: nothing names it (its notifications
    # were dropped), but the generation moved, so the table is read and repaired
    m = d.mark()
    while_stopped(d, lambda: flood(sandbox, 6, "b"),
                  lambda: sandbox.nft("flush", "map", "inet", "nftgate", "endpoint4"))
    _, e = wait_at(d, lambda x: x.get("msg") == "drift repaired", m, "drift repair")
    assert e["msgs"] > 0 and not e["replaced"], e
    assert not msgs_since(d, m, "table changed by another program"), d.log_text()
    assert listing(sandbox) == before
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    assert metric(sandbox, "nftgate_drift_repairs_total") == 1
    assert d.stop() == 0


def many_endpoints(n=300):
    """foo-1 and foo-2, and n endpoints no pod answers at: one commit of them notifies
    more elements than the cut buffer holds."""
    many = {"x%d" % k: ("10.244.%d.%d" % (9 + k // 250, k % 250 + 1), "fd00:244:9::%x" % (k + 1))
            for k in range(n)}
    many.update({k: FOO_PODS[k] for k in ("foo-1", "foo-2")})
    return many


def test_own_commit_overflowing_notifications_sends_no_repair(sandbox, inputs, faults_bin,
                                                            monkeypatch):
    monkeypatch.setenv("NFTGATE_FAULTS", "lose-events")
    add_pods(sandbox)
    d = start(sandbox, inputs, binary=faults_bin)
    # the first reconcile creates the whole table with notifications muted: none arrive to
    # be lost (signalfd and notifications are served in the order they became ready)
    m = d.mark()
    d.proc.send_signal(signal.SIGHUP)
    i, _ = wait_at(d, lambda x: x.get("msg") == "SIGHUP: re-reading every input", m, "SIGHUP")
    with d.cond:
        assert not [e for e in d.events[:i] if e.get("msg") == LOST], d.log_text()
    # an element-level commit of 600 endpoints is heard, and its own notifications overflow
    # the cut buffer; the generation is still the one it committed, so nothing is read or
    # sent
    m = d.mark()
    write_backends(inputs, many_endpoints())
    _, e = wait_at(d, lambda x: x.get("msg") == LOST, m, "lost notifications")
    assert e["dumped"] is False, e
    assert not msgs_since(d, m, "drift repaired"), d.log_text()
    with d.cond:
        assert not [x for x in d.events[m:] if x.get("msg") == "reconcile" and
                    x.get("replaced")], d.log_text()
    assert metric(sandbox, "nftgate_drift_repairs_total") == 0
    assert d.stop() == 0


def test_commit_during_a_muted_replace_is_checked(sandbox, inputs, faults_bin, monkeypatch):
    # the full replace is sent with notifications muted; another commit right after it
    # (the seam's, of a scratch table) is unheard, but moves the generation past ours: the
    # table is dumped and found as committed, and nothing is sent
    monkeypatch.setenv("NFTGATE_FAULTS", "commit-after-send")
    add_pods(sandbox)
    d = start(sandbox, inputs, binary=faults_bin)
    _, e = wait_at(d, lambda x: x.get("msg") == UNHEARD, 0, "the check after the replace")
    assert e["dumped"] is True, e
    assert not msgs_since(d, 0, "drift repaired"), d.log_text()
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    assert d.stop() == 0


def test_after_lost_notifications_another_tables_commit_is_not_drift(sandbox, inputs,
                                                                     faults_bin, monkeypatch):
    # a commit overflows the socket: the part of it still queued after the overrun (its
    # NEWGEN dropped) must not make the next transaction of another program drift
    monkeypatch.setenv("NFTGATE_FAULTS", "lose-events")
    add_pods(sandbox)
    d = start(sandbox, inputs, binary=faults_bin)
    m = d.mark()
    write_backends(inputs, many_endpoints())
    wait_at(d, lambda x: x.get("msg") == LOST, m, "lost notifications")
    m = d.mark()
    sandbox.nft("add", "table", "ip", "ngt-unrelated")
    # signalfd and notifications are served in the order they became ready: the SIGHUP
    # line comes after the notifications of that commit were read
    d.proc.send_signal(signal.SIGHUP)
    i, _ = wait_at(d, lambda x: x.get("msg") == "SIGHUP: re-reading every input", m, "SIGHUP")
    with d.cond:
        foreign = [e for e in d.events[m:i] if e.get("msg") == "table changed by another "
                   "program"]
    assert d.stop() == 0
    assert not foreign, foreign


# ---- the state directory becomes unwritable -------------------------------------------------


def without_dac_override(tmp_path, binary):
    """A wrapper running binary as root without CAP_DAC_OVERRIDE (and DAC_READ_SEARCH), so
    that a directory's mode binds it: root otherwise writes into a 0500 directory."""
    w = tmp_path / "nftgate-no-dac"
    w.write_text("#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search "
                 "-- %s \"$@\"\n" % binary)
    w.chmod(0o755)
    return w


def test_unwritable_state_dir_warns_and_programming_goes_on(sandbox, inputs, tmp_path):
    binary = without_dac_override(tmp_path, nftgate_binary())
    state = sandbox.state_dir
    add_pods(sandbox)
    d = start(sandbox, inputs, binary=binary)
    wait_pods(sandbox, 8080, {"foo-1", "foo-2"})
    mode = stat.S_IMODE(os.stat(state).st_mode)
    files = sorted(os.listdir(state))
    try:
        os.chmod(state, 0o500)
        # programming goes on (an endpoint swapped: no pick chain left for the later
        # clean-up, which would hold the record back until it is done)
        m = d.mark()
        write_backends(inputs, {k: FOO_PODS[k] for k in ("foo-1", "foo-3")})
        e = d.reconcile(m)
        assert e["msgs"] > 0, e
        wait_pods(sandbox, 8080, {"foo-1", "foo-3"})
        assert d.proc.poll() is None
        # stopping: the committed record cannot be written; a warning, and exit 0
        m = d.mark()
        assert d.stop() == 0
        w = d.wait(lambda x: x.get("msg", "").startswith("the committed record was not "
                                                          "saved"), m, what="the warning")
        assert w["level"] == "warn" and "Permission denied" in w["error"], w
        assert sorted(os.listdir(state)) == files
        # started with it unwritable (the lock exists: a previous run made it): no rollback
        # point for this run, a warning, and programming goes on
        d = start(sandbox, inputs, binary=binary)
        w = d.wait(lambda x: x.get("msg", "").startswith("no rollback point saved"), 0,
                   what="the warning")
        assert w["level"] == "warn" and "Permission denied" in w["error"], w
        m = d.mark()
        write_backends(inputs, {k: FOO_PODS[k] for k in ("foo-2", "foo-3")})
        assert d.reconcile(m)["msgs"] > 0
        wait_pods(sandbox, 8080, {"foo-2", "foo-3"})
        assert get(sandbox, "/readyz") == (200, "ready\n")
        assert d.stop() == 0
        assert sorted(os.listdir(state)) == files
    finally:
        os.chmod(state, mode)
    # writable again: the next run saves its rollback point and, at the stop, its record
    d = start(sandbox, inputs, binary=binary)
    assert d.stop() == 0
    assert len(os.listdir(state)) > len(files), (files, os.listdir(state))
