"""The doors: a package installed beside modelsel adds a provider (entry-point group
`modelsel.providers`) and a scorer (`modelsel.scorers`), with no fork and no register() call;
`check` and `eval` take their names, and refuse them with file and line when nothing provides them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, write_evalset, write_req

PLUGIN = '''
import time

from modelsel.providers.base import CallRequest, CallResult, Provider, on_this_machine


class ShoutProvider(Provider):
    """A provider from outside modelsel: answers the last user message in capitals."""

    @classmethod
    def vendor_of(cls, spec):
        return "shout-plugin"

    @classmethod
    def own_facts(cls, spec):
        return on_this_machine("the shout plugin, in-process")

    async def complete(self, req: CallRequest) -> CallResult:
        t0 = time.perf_counter()
        text = req.messages[-1]["content"].split()[0].lower()
        return CallResult(text=text, input_tokens=1, output_tokens=1, latency_ms=(time.perf_counter() - t0) * 1000)


def starts_like(output, example, letters=1):
    same = output[:letters] == str(example.expected)[:letters]
    return (1.0 if same else 0.0), f"first {letters} letter(s) {'match' if same else 'differ'}"
'''


def _install(site: Path) -> None:
    """What `pip install shout-plugin` leaves: the module and a dist-info naming the entry point."""
    (site / "shout_plugin.py").write_text(PLUGIN)
    info = site / "shout_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[modelsel.providers]\nshout = shout_plugin:ShoutProvider\n\n"
                                           "[modelsel.scorers]\nstarts_like = shout_plugin:starts_like\n")


def _run(*args: str, site: Path | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(site) if site else "", str(ROOT)) if p))
    return subprocess.run([sys.executable, "-m", "modelsel", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_an_installed_package_adds_a_provider(tmp_path: Path) -> None:
    rows = [(f"e{i}", f"{w} ticket {i}", w, "t") for i, w in enumerate(["billing", "technical", "account"] * 4)]
    write_evalset(tmp_path / "p", rows)
    req = write_req(tmp_path / "p", [{"id": "shout", "provider": "shout", "model": "v1",
                                      "price": {"input_per_mtok": 0, "output_per_mtok": 0}}],
                    evalset="tickets.jsonl", scoring=[{"type": "exact"}], compliance={})
    # not installed: the name is refused with the line and the providers there are
    bare = _run("check", str(req), site=None, cwd=tmp_path)
    assert bare.returncode == 2 and "unknown provider 'shout'" in bare.stderr + bare.stdout
    assert "req.yaml:" in bare.stderr + bare.stdout
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    assert _run("check", str(req), site=site, cwd=tmp_path).returncode == 0
    run = _run("eval", str(req), "--out", str(tmp_path / "run"), site=site, cwd=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["candidates"]["shout"]["quality"]["mean"] == 1.0
    assert summary["candidates"]["shout"]["vendor"] == "shout-plugin"


def test_an_installed_package_adds_a_scorer(tmp_path: Path) -> None:
    rows = [(f"e{i}", f"{w} ticket {i}", w, "t") for i, w in enumerate(["billing", "technical"] * 6)]
    write_evalset(tmp_path / "p", rows)
    (tmp_path / "p" / "rules.py").write_text("def first(text):\n    return text.split()[0]\n")
    req = write_req(tmp_path / "p", [{"id": "rules", "provider": "python", "model": "rules:first"}],
                    evalset="tickets.jsonl", scoring=[{"type": "plugin", "name": "starts_like", "args": {"letters": 2}}],
                    compliance={})
    bare = _run("check", str(req), site=None, cwd=tmp_path)
    assert bare.returncode == 2 and "no installed package provides the scorer 'starts_like'" in bare.stderr + bare.stdout
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    run = _run("eval", str(req), "--out", str(tmp_path / "run"), site=site, cwd=tmp_path)
    assert run.returncode in (0, 1), run.stderr
    rec = json.loads((tmp_path / "run" / "records.jsonl").read_text().splitlines()[0])
    assert rec["score"] == 1.0 and rec["reason"] == "first 2 letter(s) match"
    assert rec["scores"][0]["params"] == {"name": "starts_like", "args": {"letters": 2}}
