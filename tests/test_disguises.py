"""Attacks in disguise (issue 48, round three): a cache row forged with a recomputed checksum, a key
echoed with zero-width separators or reversed, markup in a candidate id, a metadata address in
another spelling. Each attack is the fixture; the test states the refusal or the result a user sees."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.conftest import cli, flat, openai_cand, oracle, run_dir, write_req

# --- 11. the response cache: a checksum anyone can recompute proves nothing ----------------------------


def _forge(db: sqlite3.Connection, how: str) -> int:
    """Every row's answer made wrong ("billing" for all), its checksum as the attacker leaves it."""
    rows = db.execute("SELECT key, value FROM responses").fetchall()
    for key, value in rows:
        v = json.loads(value)
        v.update(output="billing" if v["output"] != "billing" else "other", latency_ms=1)
        text = json.dumps(v)
        checksum = {"null": None,
                    "sha256": hashlib.sha256(f"{key}\n{text}".encode()).hexdigest(),  # the scheme before the key
                    "other key": hmac.new(b"an attacker's own key 0123456789", f"{key}\n{text}".encode(),
                                          hashlib.sha256).hexdigest()}[how]
        db.execute("UPDATE responses SET value = ?, checksum = ? WHERE key = ?", (text, checksum, key))
    db.commit()
    return len(rows)


@pytest.mark.parametrize("how", ["null", "sha256", "other key"])
def test_a_forged_cache_row_is_a_miss_whatever_its_checksum(fake, keys, tmp_path: Path, how: str) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    assert cli("eval", req, "--out", tmp_path / "a").exit_code == 0
    n = _forge(sqlite3.connect(tmp_path / "reports" / ".cache" / "responses.sqlite"), how)
    res = cli("eval", req, "--out", tmp_path / "b")
    assert res.exit_code == 0, res.output
    summary, recs = run_dir(tmp_path / "b")
    assert not any(r["cached"] for r in recs) and len(fake.requests_for("m")) == 2 * n  # every call made again
    assert all(r["passed"] for r in recs if not r.get("latency_sample"))  # the forged wrong answers were not used
    said = "has no checksum" if how == "null" else "does not match its checksum"
    assert f"{n} cached answer(s) in" in flat(res.output) and said in flat(res.output)


def test_the_cache_key_file_is_made_on_first_use_for_its_owner_only(fake, keys, tmp_path: Path) -> None:
    fake.script("m", answer=oracle)
    key = Path(os.environ["XDG_CONFIG_HOME"]) / "modelsel" / "cache.key"
    assert not key.exists()
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    assert cli("eval", req, "--out", tmp_path / "a").exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) == 64
    assert not list((tmp_path / "reports").rglob("cache.key"))  # the key does not travel with the cache
    res = cli("eval", req, "--out", tmp_path / "b")  # the same machine reads its own cache
    assert all(r["cached"] for r in run_dir(tmp_path / "b")[1])
    assert key.read_text() not in res.output
    key.write_text(key.read_text().replace("a", "b").replace("1", "2") + "\n")  # another machine's key
    cli("eval", req, "--out", tmp_path / "c")
    assert not any(r["cached"] for r in run_dir(tmp_path / "c")[1])


def test_ci_keys_the_cache_with_an_environment_secret(fake, keys, tmp_path: Path, monkeypatch) -> None:
    fake.script("m", answer=oracle)
    req = write_req(tmp_path, [openai_cand(fake, "m")])
    monkeypatch.setenv("MODELSEL_CACHE_KEY", "ci-secret-of-the-main-branch-0123")
    cli("eval", req, "--out", tmp_path / "a")
    assert not (Path(os.environ["XDG_CONFIG_HOME"]) / "modelsel" / "cache.key").exists()
    monkeypatch.setenv("MODELSEL_CACHE_KEY", "another-branchs-secret-4567890abc")  # a cache another branch wrote
    cli("eval", req, "--out", tmp_path / "b")
    assert not any(r["cached"] for r in run_dir(tmp_path / "b")[1])
    monkeypatch.setenv("MODELSEL_CACHE_KEY", "short")
    res = cli("eval", req, "--out", tmp_path / "c")
    assert res.exit_code == 1 and "MODELSEL_CACHE_KEY holds 5 characters" in flat(res.output)
    assert "Traceback" not in res.output


def test_a_cache_key_file_others_can_read_is_refused(fake, keys, tmp_path: Path) -> None:
    key = Path(os.environ["XDG_CONFIG_HOME"]) / "modelsel" / "cache.key"
    key.parent.mkdir(parents=True)
    key.write_text("k" * 64 + "\n")
    key.chmod(0o644)
    res = cli("eval", write_req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "a")
    assert res.exit_code == 1 and "can be read or written by others" in flat(res.output)
    assert f"chmod 600 {key}" in flat(res.output) and not fake.requests_for("m")


# --- 16. a key echoed with zero-width separators, or reversed -------------------------------------------

ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


def _disguises(key: str) -> list[str]:
    return ["".join(ch + ZW[i % len(ZW)] for i, ch in enumerate(key)).rstrip("".join(ZW)),  # zero-width between
            key[::-1],  # reversed
            "\u202e" + key[::-1] + "\u202c",  # reversed behind a right-to-left override: shows as the key
            "\u2060".join(key[::-1]).upper()]


def _written(*folders: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for f in folders for p in f.rglob("*") if p.is_file())


def test_a_key_echoed_with_zero_width_separators_or_reversed_is_redacted_everywhere(fake, keys, tmp_path: Path) -> None:
    key = keys["OPENAI_API_KEY"]
    echo = " | ".join(_disguises(key))
    fake.script("err", always="400", error_message=f"bad key {echo}")
    fake.script("ans", answer=lambda prompt: f"billing {echo}")
    req = write_req(tmp_path, [openai_cand(fake, "err"), openai_cand(fake, "ans")])
    res = cli("eval", req, "--out", tmp_path / "run", "--junit", tmp_path / "j.xml", "--summary-md", tmp_path / "s.md")
    assert "bad key" in res.output and "[REDACTED]" in res.output  # the echo reached the terminal, redacted
    written = _written(tmp_path / "run", tmp_path / "reports") + (tmp_path / "j.xml").read_text()
    written += (tmp_path / "s.md").read_text()
    assert (tmp_path / "run" / "records.csv").exists() and (tmp_path / "run" / "report.html").exists()
    plain = key.lower()
    for text in (res.output, written):
        for form in _disguises(key):
            assert form not in text
        seen = "".join(ch for ch in text.lower() if ch.isalnum() or ch in "-_")  # every separator taken out
        assert plain.replace("-", "") not in seen.replace("-", "") and plain[::-1].replace("-", "") not in \
            seen.replace("-", "")


# --- 18. metadata addresses in other spellings ------------------------------------------------------------

METADATA_SPELLINGS = ["http://[::ffff:169.254.169.254]/v1", "http://2852039166/v1", "http://0xa9fea9fe/v1",
                      "http://0251.0376.0251.0376/v1", "http://169.254.43518/v1", "http://[fd00:ec2::254]/v1",
                      "http://169.254.169.254.nip.io/v1", "http://169-254-169-254.sslip.io/v1",
                      "http://app-a9fea9fe.nip.io/v1", "http://anything.nip.io/v1", "http://[64:ff9b::a9fe:a9fe]/v1",
                      "http://[2002:a9fe:a9fe::1]/v1", "https://metadata.google.internal./v1",
                      "http://168.63.129.16/v1"]


@pytest.mark.parametrize("url", METADATA_SPELLINGS)
def test_a_metadata_address_in_any_spelling_gets_no_key(fake, keys, tmp_path: Path, url: str) -> None:
    from tests.conftest import compat_cand

    req = write_req(tmp_path, [compat_cand(fake, "m", base_url=url, allow_plain_http=True)])
    check = cli("check", req)
    assert "key at risk" in flat(check.output) and "link-local or cloud metadata address" in flat(check.output)
    res = cli("eval", req, "--out", tmp_path / "run")
    assert res.exit_code == 2 and "no key is sent there" in flat(res.output) and "req.yaml:" in res.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("url", ["http://127.1:9/v1", "http://2130706433:9/v1", "http://[::ffff:127.0.0.1]:9/v1",
                                 "https://10.0.0.5/v1", "https://api.example.com/v1"])
def test_other_spellings_of_ordinary_hosts_are_not_refused_as_metadata(fake, keys, tmp_path: Path, url: str) -> None:
    from tests.conftest import compat_cand

    check = cli("check", write_req(tmp_path, [compat_cand(fake, "m", base_url=url)]))
    assert "metadata address" not in flat(check.output) and "key at risk" not in flat(check.output)


# --- 15. markup through ids and names -----------------------------------------------------------------

@pytest.mark.parametrize("cand, shown", [
    ({"id": "ok<img src=x onerror=alert(1)>", "provider": "python", "model": "rules:classify"}, "contains"),
    ({"id": "cheap![x](https://evil.example/p.png)", "provider": "python", "model": "rules:classify"}, "contains"),
    ({"id": "a" * 129, "provider": "python", "model": "rules:classify"}, "is 129 characters long"),
    ({"id": "-rf", "provider": "python", "model": "rules:classify"}, "does not start with a letter or digit"),
    ({"provider": "openai-compatible", "model": "m<script>", "base_url": "https://x.example/v1"}, "contains"),
])
def test_a_candidate_id_outside_the_safe_set_is_refused_at_check(tmp_path: Path, cand: dict, shown: str) -> None:
    (tmp_path / "rules.py").write_text("def classify(text):\n    return 'other'\n")
    req = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}, cand])
    for res in (cli("check", req), cli("eval", req, "--out", tmp_path / "run")):
        assert res.exit_code == 2, res.output
        out = flat(res.output)
        assert "req.yaml:" in out and "candidates[1].id" in out and shown in out and "give it an 'id:'" in out
        assert "Traceback" not in res.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "reports").exists()


def test_the_judges_id_is_held_to_the_same_set(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def classify(text):\n    return 'other'\n")
    judge = {"id": "judge<img src=x>", "provider": "openai-compatible", "model": "j", "base_url": "https://x.example/v1"}
    res = cli("check", write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}],
                                 judge=judge))
    assert res.exit_code == 2 and "field 'judge.id'" in flat(res.output) and "req.yaml:" in res.output


def test_outside_text_is_escaped_for_junit_and_csv(tmp_path: Path) -> None:
    """A requirements name with an image and a tag (an imported project's description), a model's answer
    with ESC: the JUnit file a reporter renders as Markdown opens no image, link or tag, and records.csv
    holds no raw control character."""
    import xml.etree.ElementTree as ET

    (tmp_path / "rules.py").write_text("def classify(text):\n    return 'billing \\x1b]0;pwned\\x07 \\x1b[2J'\n")
    name = "Triage ![x](https://evil.example/p.png) <img src=x onerror=alert(1)> [click](https://evil.example)"
    req = write_req(tmp_path, [{"id": "kw", "provider": "python", "model": "rules:classify"}], name=name)
    res = cli("eval", req, "--out", tmp_path / "run", "--junit", tmp_path / "j.xml")
    assert res.exit_code in (0, 1), res.output
    root = ET.parse(tmp_path / "j.xml").getroot()
    texts = [v for el in root.iter() for v in (*el.attrib.values(), el.text or "")]
    assert any("Triage" in t for t in texts)
    for t in texts:  # every bracket and angle bracket escaped: nothing a Markdown renderer opens
        assert not re.search(r"(?<!\\)[\[\]<>]", t), t
    csv = (tmp_path / "run" / "records.csv").read_text()
    assert "\x1b" not in csv and "\x07" not in csv and "\\x1b]0;pwned" in csv


# --- 17. the control endpoint's stated time is read like any response -----------------------------------

@pytest.mark.parametrize("stated", ["1e12", "nan", "NaN", "inf", "-100000", "garbage", "", "0x10", "100000000"])
def test_a_control_time_that_cannot_be_true_is_no_sample(stated: str) -> None:
    """A control answering with a lying time: no "0.0 ms added", no machine that adds 100 s; the
    sample is refused and counted, so the machine's distortion is unmeasured, not made up."""
    import asyncio
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from modelsel.run.control import Control

    class Liar(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "control"}
            events = [{**chunk, "choices": [{"index": 0, "delta": {"content": stated}, "finish_reason": None}]},
                      {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
            body = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        c = Control()
        c.use(f"http://127.0.0.1:{srv.server_address[1]}/v1")

        async def go() -> list[float | None]:
            got = [await c.sample() for _ in range(3)]
            await c.aclose()
            return got

        assert asyncio.run(go()) == [None, None, None]
        assert c.samples == [] and c.refused == 3
    finally:
        srv.shutdown()


def test_the_control_endpoint_is_sampled_through_the_models_call_path() -> None:
    """The control process started on a socket the run made: its samples come through the same
    provider code and streamed SDK path as a model's call (the first waits for the process to start)."""
    import asyncio

    from modelsel.run.control import Control

    c = Control()
    assert c.start() and c.port
    try:
        async def go() -> list[float | None]:
            got = [await c.sample() for _ in range(5)]
            await c.aclose()
            return got

        got = asyncio.run(go())
    finally:
        c.stop()
    assert all(x is not None and 0 <= x < 5000 for x in got), got
    assert len(c.samples) == 5 and c.refused == 0


def test_a_true_control_time_is_a_sample() -> None:
    from modelsel.run.control import server_ms

    assert server_ms("20.125", 23.0) == 20.125 and server_ms(" 0 ", 1.0) == 0.0
    assert server_ms("25.0", 23.0) is None  # longer than the whole call: cannot be true


# --- 13. latency.load with absurd values --------------------------------------------------------------------

def _load_req(tmp_path: Path, fake, load: dict) -> Path:  # type: ignore[no-untyped-def]
    return write_req(tmp_path, [openai_cand(fake, "m")], latency={"p50_ms": 2000, "p95_ms": 5000, "load": load},
                     quality={"min_score": 0.1}, decision={"max_error_rate": 0.5})


def test_a_load_rate_too_slow_for_the_deadline_stops_at_it_and_judges_nothing(fake, keys, tmp_path: Path) -> None:
    """rps 0.0001: the second arrival would come hours later. The run stops at --max-minutes, and the
    latency is said not judged (not a failure of the model)."""
    import time

    fake.script("m", answer=oracle)
    t0 = time.perf_counter()
    res = cli("eval", _load_req(tmp_path, fake, {"rps": 0.0001, "calls": 20}), "--out", tmp_path / "run",
              "--max-minutes", "0.25")
    assert time.perf_counter() - t0 < 60, "the load pass waited past the deadline"
    s, _ = run_dir(tmp_path / "run")
    checks = {k["requirement"]: k for k in s["candidates"]["oa-m"]["checks"]}
    assert checks["latency.p50_ms"]["status"] == "unmeasured"
    assert "the run's deadline stopped the load pass after 1 of 20 calls" in checks["latency.p50_ms"]["text"]
    assert "latency.load" not in checks  # the model is not said to have failed the load
    assert s["candidates"]["oa-m"]["latency"]["not_judged"]
    assert res.exit_code in (0, 1) and "Traceback" not in res.output


def test_a_load_the_machine_cannot_offer_is_not_judged_instead_of_blamed_on_the_model(fake, keys, tmp_path: Path,
                                                                                     monkeypatch) -> None:
    """The control shows this machine adding more than the threshold during the load pass (the threshold
    set to 0 ms stands in for 2 cores offered 1,000 requests/s): the latency is not judged, the model is
    not eliminated for it, and the record says why."""
    monkeypatch.setenv("MODELSEL_QUIET_PASS_MS", "0")
    fake.script("m", answer=oracle, latency_ms=5)
    res = cli("eval", _load_req(tmp_path, fake, {"rps": 20, "calls": 30}), "--out", tmp_path / "run")
    s, _ = run_dir(tmp_path / "run")
    c = s["candidates"]["oa-m"]
    checks = {k["requirement"]: k for k in c["checks"]}
    assert checks["latency.p50_ms"]["status"] == "unmeasured"
    assert "this machine could not offer the load (20 requests/s" in checks["latency.p50_ms"]["text"]
    assert "latency.load" not in checks and c["status"] != "eliminated"
    assert "latency not judged: this machine could not offer the load" in flat((tmp_path / "run" / "decision.md")
                                                                              .read_text())
    assert "Traceback" not in res.output
