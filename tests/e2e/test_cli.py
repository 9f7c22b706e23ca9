"""The command line itself: usage errors, exit statuses, every input error at once.

No root needed: nothing here touches the kernel.
"""
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NFTGATE = os.environ.get("NFTGATE_BIN", os.path.join(REPO, "build", "nftgate"))

BAD_SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: s1}
spec: {ports: [{port: 70000}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: x}
"""


def run(*args, stdin=None):
    return subprocess.run([NFTGATE, *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["status"],                                  # needs -f
    ["rollback", "-f", "x.yaml"],                # rollback takes no -f
    ["status", "-f", "x", "-o", "xml"],
    ["apply", "-f", "x", "--masquerade=sometimes"],
    ["apply", "-f", "x", "--table", ""],
    ["status", "-f", "x", "extra"],
])
def test_usage_errors_exit_2(args):
    r = run(*args)
    assert r.returncode == 2, r
    assert r.stderr.strip(), "a usage error must say what is wrong"


def test_version():
    r = run("version")
    assert r.returncode == 0
    assert r.stdout.startswith("nftgate ")


def test_every_error_in_every_file_is_reported(tmp_path):
    """Errors in one file do not hide errors in another, nor duplicates across them."""
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(BAD_SERVICE)
    b.write_text(BAD_SERVICE)
    r = run("status", "-f", str(a), "-f", str(b))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert any(l.startswith(f"{a}:4: Service default/s1: spec.ports[0].port: 70000") for l in lines)
    assert any(l.startswith(f"{b}:4: Service default/s1: spec.ports[0].port: 70000") for l in lines)
    assert any(l.startswith(f"{b}:6: Namespace x: defined twice (also at {a}:6)") for l in lines)
    assert r.stdout == "", "nothing is printed when the input is bad"


def test_dry_run_input_error_prints_no_ruleset(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SERVICE)
    r = run("apply", "--dry-run", "-f", str(bad))
    assert r.returncode == 2
    assert r.stdout == ""


def test_stdin_input():
    with open(os.path.join(REPO, "examples", "basic-tcp", "gateway.yaml")) as f:
        text = f.read()
    r = run("status", "-o", "json", "-f", "-", stdin=text)
    assert r.returncode == 0, r.stderr
    assert '"kind": "Gateway"' in r.stdout
