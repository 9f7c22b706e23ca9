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


@pytest.mark.parametrize("args,option", [
    (["rollback", "--controller-name", "x"], "--controller-name"),
    (["version", "--controller-name", "x"], "--controller-name"),
    (["version", "--table", "t"], "--table"),
    (["rollback", "--gateway-class", "c"], "--gateway-class"),
    (["rollback", "--allow-empty"], "--allow-empty"),
    (["status", "-f", "x", "--table", "t"], "--table"),
    (["status", "-f", "x", "--dry-run"], "--dry-run"),
    (["status", "-f", "x", "--allow-empty"], "--allow-empty"),
    (["apply", "-f", "x", "-o", "json"], "--output"),
])
def test_misplaced_option_is_a_usage_error(tmp_path, args, option):
    """An option of another subcommand is refused, naming the option and the subcommand;
    nothing is read or run (a state directory that rollback may take is not created)."""
    extra = ["--state-dir", str(tmp_path / "never")] if args[0] == "rollback" else []
    r = run(*args, *extra)
    assert r.returncode == 2, r
    assert f"{option} is not an option of {args[0]}" in r.stderr, r.stderr
    assert r.stdout == ""
    assert not (tmp_path / "never").exists()


def test_help_exits_0_for_every_subcommand():
    for sub in ("apply", "rollback", "status", "version"):
        r = run(sub, "--help")
        assert r.returncode == 0, r
        assert "Usage:" in r.stdout and "--allow-empty" in r.stdout


@pytest.mark.parametrize("name,limit", [
    ("t" * 228, "227"),                # the state directory's file names
    ("t" + "." * 75 + "tt", "227"),    # a '.' takes 3 bytes there (%2e)
    ("t" * 256, "255"),                # the kernel's
])
def test_table_name_beyond_the_limits_is_a_usage_error(tmp_path, name, limit):
    for sub in (["apply", "-f", "x", "--dry-run"], ["rollback"]):
        r = run(*sub, "--table", name, "--state-dir", str(tmp_path / "never"))
        assert r.returncode == 2, r
        assert limit in r.stderr, r.stderr
    assert not (tmp_path / "never").exists()


def test_fifo_in_an_input_directory_is_skipped_with_a_note(tmp_path):
    """A FIFO named *.yaml in a -f directory is not opened for reading (that waits for a
    writer forever): it is skipped with a note naming it, and the regular files are read.
    On a hang, run()'s timeout fails the test."""
    with open(os.path.join(REPO, "examples", "basic-tcp", "gateway.yaml")) as f:
        (tmp_path / "a.yaml").write_text(f.read())
    os.mkfifo(tmp_path / "b.yaml")
    r = run("status", "-o", "json", "-f", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert f"{tmp_path}/b.yaml: note: skipped: a FIFO, not a regular file\n" in r.stderr
    assert '"kind": "Gateway"' in r.stdout


def test_input_text_is_escaped_in_errors(tmp_path):
    """Keys, values and file names from the input reach the terminal escaped: no escape
    sequence is echoed and a file name with a newline cannot forge an output line."""
    bad = tmp_path / "x.yaml\nx.yaml:1: Service default-s"
    bad.write_text('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n'
                   '  "\\e[2J\\e[31mFAKE": 1\n  "\\e[2J\\e[31mFAKE": 2\n')
    r = run("status", "-f", str(bad))
    assert r.returncode == 2, r
    assert "\x1b" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2, lines  # the error and the count
    assert lines[0] == (f"{tmp_path}/x.yaml\\nx.yaml:1: Service default-s:6: "
                        'duplicate key "\\x1b[2J\\x1b[31mFAKE" in one mapping')


def test_nul_in_kind_is_refused_not_read(tmp_path):
    """kind: "Service\\0zzz" is not a Service: refused with file:line, exit 2."""
    f = tmp_path / "nul.yaml"
    f.write_text('apiVersion: v1\nkind: "Service\\0zzz"\nmetadata: {name: s}\n'
                 'spec: {ports: [{port: 80}]}\n')
    r = run("status", "-f", str(f))
    assert r.returncode == 2, r
    assert r.stderr.startswith(f'{f}:2: "Service\\x00zzz": a NUL character is not allowed'), r.stderr
