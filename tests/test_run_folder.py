"""One writer per run folder, a folder that is not a run is never written into, symlinks are
never followed, an unfinished run is named, and a full disk loses nothing finished."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli, cli_subprocess, openai_cand, oracle, run_dir, write_req


def test_two_writers_on_one_folder_one_is_refused(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle, latency_ms=150)
    req = write_req(tmp_path, [openai_cand(fake, "m", concurrency=2)])
    env = dict(keys, MODELSEL_RETRY_SCALE="0")
    procs = [cli_subprocess("eval", req, "--out", tmp_path / "same", "--no-cache", cwd=tmp_path, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    refused = next(o[1] for p, o in zip(procs, outs, strict=True) if p.returncode == 2)
    assert "being written by process" in " ".join(refused.split()) and "same" in refused
    _, records = run_dir(tmp_path / "same")
    assert len(records) == 12  # whole, in order, from one writer
    marker = json.loads((tmp_path / "same" / ".modelsel-run.json").read_text())
    assert marker["state"] == "finished"


def test_a_folder_that_is_not_a_run_is_never_written_into(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    mine = tmp_path / "my-notes"
    mine.mkdir()
    (mine / "plan.txt").write_text("my plan")
    res = cli("eval", req, "--out", mine)
    assert res.exit_code == 2 and "not a modelsel run" in " ".join(res.output.split()) and "plan.txt" in res.output
    assert sorted(p.name for p in mine.iterdir()) == ["plan.txt"] and (mine / "plan.txt").read_text() == "my plan"
    # an earlier run of the same requirements may be written again; one of other requirements may not
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    other = write_req(tmp_path / "other", [openai_cand(fake, "m")])
    res = cli("eval", other, "--out", tmp_path / "run")
    assert res.exit_code == 2 and "a run of another requirements file" in " ".join(res.output.split())


def test_symlinks_in_a_run_folder_are_not_followed(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "run" / "records.jsonl").unlink()
    (tmp_path / "run" / "records.jsonl").symlink_to(victim)
    (tmp_path / "run" / "trace.jsonl").unlink()
    (tmp_path / "run" / "trace.jsonl").symlink_to(victim)
    shutil.rmtree(tmp_path / "run" / "inputs")
    (tmp_path / "run" / "inputs").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    assert cli("eval", req, "--out", tmp_path / "run").exit_code == 0
    assert victim.read_text() == "precious" and not any((tmp_path / "elsewhere").iterdir())
    assert not (tmp_path / "run" / "records.jsonl").is_symlink() and len(run_dir(tmp_path / "run")[1]) == 12


def test_an_interrupted_run_is_marked_and_named_by_the_next(fake, keys, tmp_path: Path) -> None:
    import signal
    import time

    fake.script("m", answer=oracle, latency_ms=400)
    req = write_req(tmp_path, [openai_cand(fake, "m", concurrency=1)])
    p = cli_subprocess("eval", req, "--reports", tmp_path / "reports", cwd=tmp_path, env=dict(keys))
    deadline = time.time() + 30
    while time.time() < deadline and len(fake.requests_for("m")) < 3:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode == 130
    left = next((tmp_path / "reports").glob("req-*"))
    assert json.loads((left / ".modelsel-run.json").read_text())["state"] == "interrupted"
    res = cli("eval", req, "--reports", tmp_path / "reports")
    assert "left unfinished (interrupted" in " ".join(res.output.split()) and left.name in res.output


def _full_disk_after(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """A writer that fails with ENOSPC after n records, as a full disk does."""
    from modelsel.run.rundir import RunDir

    real = RunDir.trace
    count = {"n": 0}

    def trace(self, rec):  # type: ignore[no-untyped-def]
        count["n"] += 1
        if count["n"] > n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, rec)

    monkeypatch.setattr(RunDir, "trace", trace)


def test_a_full_disk_stops_with_one_message_and_the_resume_repays_nothing(fake, keys, tmp_path: Path, monkeypatch) -> None:
    fake.script("m", answer=oracle, latency_ms=20)
    req = write_req(tmp_path, [openai_cand(fake, "m", concurrency=2)])
    _full_disk_after(monkeypatch, 5)
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert out.count("Stopped:") == 1 and "No space left on device" in out and "Traceback" not in res.output
    assert "run the same command again" in out
    assert json.loads((tmp_path / "run" / ".modelsel-run.json").read_text())["state"] == "stopped"
    first = len(fake.requests_for("m"))
    config = os.environ["XDG_CONFIG_HOME"]  # the cache's key file: the same machine resumes
    monkeypatch.undo()
    from tests.conftest import KEYS

    for k, v in KEYS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MODELSEL_RETRY_SCALE", "0")
    monkeypatch.setenv("XDG_CONFIG_HOME", config)
    monkeypatch.chdir(tmp_path)
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    _, recs = run_dir(tmp_path / "run")
    cached = sum(r["cached"] for r in recs)
    assert cached >= 6  # every answer finished before the stop (5 traced, the one that failed to trace)
    assert len(fake.requests_for("m")) - first == 12 - cached  # the resume paid only for what never finished


@pytest.mark.skipif(os.geteuid() != 0 or sys.platform != "linux", reason="needs root to mount a small tmpfs")
def test_a_really_full_filesystem(fake, keys, tmp_path: Path) -> None:
    """The same on a 64 kB filesystem: trace.jsonl fills it mid-run."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        fake.script("m", answer=lambda p: oracle(p) + " " + "padding " * 600, latency_ms=5)
        req = write_req(tmp_path, [openai_cand(fake, "m")])
        res = cli("eval", req, "--out", mnt / "run", "--reports", tmp_path / "reports")
        assert res.exit_code == 1 and "Stopped:" in res.output and "Traceback" not in res.output
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
    assert ROOT.exists()
