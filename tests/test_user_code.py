"""Your own code, run safely: a python candidate, a python or plugin scorer, an installed provider.

Whatever that code does (ends the process, never returns, fails to import), it is that candidate's
or that scorer's failure, said in one line, and the run goes on to its summary, or stops when the
deadline or a signal says so, promptly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import (
    KEYS,
    ROOT,
    TRUTH,
    cli_subprocess,
    flat,
    openai_cand,
    oracle,
    write_evalset,
    write_req,
)

GOOD = {"id": "good", "provider": "python", "model": "rules:classify"}
RULES = (f"TRUTH = {TRUTH!r}\n\n"  # a baseline that knows the tickets: the one a good run chooses
         "def classify(text):\n"
         "    return next((label for t, label in sorted(TRUTH.items(), key=lambda kv: -len(kv[0])) if t in text), "
         "'other')\n")


def _eval(tmp_path: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "PYTHONPATH": str(ROOT), "MODELSEL_RETRY_SCALE": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", "modelsel", *args], cwd=tmp_path, env=e, capture_output=True,
                          text=True, timeout=timeout)


# --- 2. user code that ends the process ------------------------------------------------------------------

EXITS = {
    "exit0": "import sys\n\ndef f(text):\n    sys.exit(0)\n",
    "exit3": "import sys\n\ndef f(text):\n    sys.exit(3)\n",
    "genexit": "def f(text):\n    raise GeneratorExit\n",
    "ctrlc": "def f(text):\n    raise KeyboardInterrupt\n",
    "asyncexit": "import sys\n\nasync def f(text):\n    sys.exit(0)\n",
    "onimport": "import sys\nsys.exit(4)\n\ndef f(text):\n    return 'other'\n",
}


def test_a_candidate_that_ends_the_process_is_that_candidates_error(tmp_path: Path) -> None:
    """sys.exit(0) made eval exit 0 with no summary, sys.exit(3) exit 3, GeneratorExit a traceback:
    now each is its candidate's error, and the run ends with its summary and the good candidate chosen."""
    (tmp_path / "rules.py").write_text(RULES)
    for name, code in EXITS.items():
        (tmp_path / f"{name}.py").write_text(code)
    cands = [GOOD] + [{"id": name, "provider": "python", "model": f"{name}:f"} for name in EXITS]
    req = write_req(tmp_path, cands, compliance={}, decision={"max_error_rate": 0.2})
    res = _eval(tmp_path, "eval", str(req), "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["decision"]["chosen"] == "good"
    recs = [json.loads(x) for x in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    for name in EXITS:
        mine = [r for r in recs if r["candidate"] == name]
        if name == "onimport":  # its module cannot load: not evaluated, and why
            assert "SystemExit(4)" in json.dumps(s)
            continue
        assert mine and all(r["error"] for r in mine), name
    said = {r["candidate"]: r["error"] for r in recs if r["error"]}
    assert "SystemExit(0)" in said["exit0"] and "SystemExit(3)" in said["exit3"]
    assert "GeneratorExit" in said["genexit"] and "KeyboardInterrupt" in said["ctrlc"]
    marker = json.loads((tmp_path / "run" / ".modelsel-run.json").read_text())
    assert marker["state"] != "running"


def test_a_plugin_provider_that_calls_sys_exit_is_its_error(tmp_path: Path) -> None:
    site = _site(tmp_path, "class P(Provider):\n"
                           "    @classmethod\n"
                           "    def own_facts(cls, spec):\n"
                           "        return on_this_machine('an exiting plugin')\n"
                           "    async def complete(self, req):\n"
                           "        import sys\n"
                           "        sys.exit(3)\n", providers="quitter = plug:P")
    (tmp_path / "rules.py").write_text(RULES)
    req = write_req(tmp_path, [GOOD, {"id": "q", "provider": "quitter", "model": "v1",
                                      "price": {"input_per_mtok": 0, "output_per_mtok": 0}}], compliance={})
    res = _eval(tmp_path, "eval", str(req), "--out", str(tmp_path / "run"), env={"PYTHONPATH": f"{site}:{ROOT}"})
    assert res.returncode == 0, res.stderr
    recs = [json.loads(x) for x in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert all("SystemExit(3)" in r["error"] for r in recs if r["candidate"] == "q")


# --- 3. a scorer that never returns -------------------------------------------------------------------------

HANG = "def score(output, example):\n    while True:\n        pass\n"


def _hanging_scorer(tmp_path: Path, fake, **spec: object) -> Path:  # type: ignore[no-untyped-def]
    fake.script("m", answer=oracle)
    (tmp_path / "slow.py").write_text(HANG)
    return write_req(tmp_path, [openai_cand(fake, "m")], scoring=[{"type": "python", "function": "slow:score", **spec}])


def test_a_scorer_past_its_time_limit_has_failed_and_the_run_ends(fake, tmp_path: Path) -> None:
    req = _hanging_scorer(tmp_path, fake, time_limit_s=1)
    t0 = time.monotonic()
    res = _eval(tmp_path, "eval", str(req), "--out", str(tmp_path / "run"), env=KEYS, timeout=90)
    assert time.monotonic() - t0 < 45  # one limit, not one per answer: the scorer is not called again
    assert res.returncode in (1, 2), res.stderr  # never a pass on answers nobody scored
    assert "Traceback" not in res.stderr
    said = res.stderr + "".join(p.read_text() for p in (tmp_path / "run").glob("*.jsonl"))
    assert "did not return within 1 s" in flat(said)


def test_max_minutes_stops_a_scorer_that_never_returns(fake, tmp_path: Path) -> None:
    req = _hanging_scorer(tmp_path, fake)  # its own limit is the default minute
    t0 = time.monotonic()
    res = _eval(tmp_path, "eval", str(req), "--out", str(tmp_path / "run"), "--max-minutes", "0.05", env=KEYS,
                timeout=120)
    assert time.monotonic() - t0 < 40, "the deadline (3 s) stops the scorer, not its own minute"
    assert res.returncode in (1, 2), res.stderr
    assert "Traceback" not in res.stderr


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_one_sigterm_stops_a_scorer_that_never_returns(fake, tmp_path: Path) -> None:
    req = _hanging_scorer(tmp_path, fake, time_limit_s=3000)
    proc = cli_subprocess("eval", req, "--out", tmp_path / "run", cwd=tmp_path, env=dict(KEYS, MODELSEL_RETRY_SCALE="0"))
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and not workers:
        time.sleep(0.2)
        workers = [p for p in _children(proc.pid) if b"modelsel.scoring.worker" in (
            Path("/proc") / str(p) / "cmdline").read_bytes()]
    assert workers, "the scorer runs in its own process"
    time.sleep(0.5)  # it is inside the loop now
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 15, "one SIGTERM stops it"
    assert proc.returncode == 143 and "Stopped by SIGTERM" in err
    time.sleep(1.0)
    assert not any(_alive(w) for w in workers), "the scorer's process goes with the run"


# --- 5. broken plugins: exit 2, one line ------------------------------------------------------------------------

def _site(tmp_path: Path, module: str, providers: str = "", scorers: str = "") -> Path:
    """What `pip install plug` leaves: plug.py and a dist-info naming its entry points."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "plug.py").write_text("from modelsel.providers.base import CallResult, Provider, on_this_machine\n\n"
                                  + module)
    info = site / "plug-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text((f"[modelsel.providers]\n{providers}\n\n" if providers else "")
                                           + (f"[modelsel.scorers]\n{scorers}\n" if scorers else ""))
    return site


BROKEN = [
    ("scorer module missing", "", "", "rouge = plug_not_installed:rouge", "scorer",
     ["scorer 'rouge' cannot be used", "plug_not_installed", "ModuleNotFoundError"]),
    ("scorer attribute missing", "def other(o, e):\n    return 1.0\n", "", "rouge = plug:rouge", "scorer",
     ["scorer 'rouge' cannot be used", "plug has no 'rouge'"]),
    ("scorer not a function", "rouge = 3\n", "", "rouge = plug:rouge", "scorer", ["plug:rouge is not a function"]),
    ("provider import error", "raise ImportError('needs boto3\\n\\x1b[31mred\\x1b[0m')\n", "bed = plug:P", "",
     "provider", ["provider 'bed' cannot be used", "ImportError: needs boto3\\n\\x1b[31mred\\x1b[0m"]),
    ("provider not a Provider", "class P:\n    pass\n", "bed = plug:P", "", "provider",
     ["plug:P is not a Provider"]),
    ("provider attribute missing", "", "bed = plug:Missing", "", "provider", ["plug has no 'Missing'"]),
    ("provider module exits", "import sys\nsys.exit(0)\n", "bed = plug:P", "", "provider",
     ["provider 'bed' cannot be used", "SystemExit(0)"]),
]


@pytest.mark.parametrize("module,providers,scorers,kind,words", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_check_resolves_every_plugin_and_names_a_broken_one(tmp_path: Path, module: str, providers: str,
                                                            scorers: str, kind: str, words: list[str]) -> None:
    site = _site(tmp_path, module, providers, scorers)
    write_evalset(tmp_path)
    (tmp_path / "rules.py").write_text(RULES)
    if kind == "scorer":
        req = write_req(tmp_path, [GOOD], compliance={}, scoring=[{"type": "plugin", "name": "rouge"}])
    else:
        req = write_req(tmp_path, [GOOD, {"id": "b", "provider": "bed", "model": "v1",
                                          "price": {"input_per_mtok": 0, "output_per_mtok": 0}}], compliance={})
    for cmd in ("check", "eval"):
        res = _eval(tmp_path, cmd, str(req), env={"PYTHONPATH": f"{site}:{ROOT}", "COLUMNS": "400"})
        assert res.returncode == 2, (cmd, res.stdout, res.stderr)
        out = res.stdout + res.stderr
        assert "Traceback" not in out and "\x1b[31m" not in out
        line = next(x for x in out.splitlines() if "req.yaml" in x)  # one line: file, line, field and why
        for w in words:
            assert w in line, (w, out)
    assert not (tmp_path / "reports").exists()
