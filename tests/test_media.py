"""Images and documents in the eval set: read, checked and hashed when the eval set loads; sent in
each API's own wire format through the real SDKs to the fake server; eliminated where a model
cannot take them; priced and recorded by name, size and sha256, never by their bytes."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import media_files
from tests.conftest import (
    anthropic_cand,
    cli,
    compat_cand,
    flat,
    gemini_cand,
    openai_cand,
    run_dir,
    write_req,
)

MAKERS = {"openai": openai_cand, "anthropic": anthropic_cand, "gemini": gemini_cand}


def _project(tmp_path: Path, rows: list[dict[str, Any]] | None = None) -> dict[str, bytes]:
    """An eval set of three examples: a PNG, a JPEG (detail low) and a two-page PDF, in files beside it."""
    files = {"img/red.png": media_files.png(40, 30), "img/blue.jpg": media_files.jpeg(64, 48),
             "docs/invoice.pdf": media_files.pdf(2)}
    media_files.write(tmp_path, files)
    rows = rows or [
        {"id": "p1", "input": [{"role": "user", "content": [{"type": "text", "text": "What colour is this?"},
                                                             {"type": "image", "path": "img/red.png"}]}],
         "expected": "red"},
        {"id": "j1", "input": [{"role": "system", "content": "Answer with one word."},
                               {"role": "user", "content": [{"type": "text", "text": "What colour is this?"},
                                                            {"type": "image", "path": "img/blue.jpg", "detail": "low"}]}],
         "expected": "blue"},
        {"id": "d1", "input": [{"role": "user", "content": [{"type": "text", "text": "What is the total?"},
                                                             {"type": "file", "path": "docs/invoice.pdf"}]}],
         "expected": "42.00"},
    ]
    (tmp_path / "media.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return files


def _req(tmp_path: Path, cands: list[Any], **over: Any) -> Path:
    over.setdefault("scoring", [{"type": "contains"}])
    over.setdefault("quality", {"min_score": 0.5})
    over.setdefault("latency", {})  # no latency limit: no latency-only calls beside the three examples
    return write_req(tmp_path, cands, evalset="media.jsonl", **over)


def _answer(prompt: str) -> str:
    return {"colour": "red blue", "total": "42.00"}.get(next((w for w in ("colour", "total") if w in prompt), ""), "?")


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("api", list(MAKERS))
def test_images_and_a_pdf_reach_each_api_in_its_own_format(fake, keys, tmp_path: Path, api: str) -> None:
    files = _project(tmp_path)
    fake.script("m", answer=_answer, media_tokens=85)
    res = cli("eval", _req(tmp_path, [MAKERS[api](fake, "m")]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert len(fake.requests_for("m")) == 3
    assert sorted(s.prompt.strip() for s in fake.requests_for("m")) == ["What colour is this?"] * 2 + ["What is the total?"]
    # what the server received decodes to the very bytes of each file, with the type they are
    seen = sorted((m["media_type"], m["sha256"]) for s in fake.requests_for("m") for m in s.media)
    assert seen == sorted([("image/png", _sha(files["img/red.png"])), ("image/jpeg", _sha(files["img/blue.jpg"])),
                           ("application/pdf", _sha(files["docs/invoice.pdf"]))])
    bodies = [s.body for s in fake.requests_for("m")]
    text = json.dumps(bodies)
    if api == "openai":
        assert '"type": "image_url"' in text and '"url": "data:image/png;base64,' in text and '"detail": "low"' in text
        assert '"type": "file"' in text and '"filename": "invoice.pdf"' in text and "data:application/pdf;base64," in text
    elif api == "anthropic":
        assert '"type": "image"' in text and '"type": "document"' in text and '"type": "base64"' in text
        assert any(b.get("system") == "Answer with one word." for b in bodies)
    else:
        assert "inlineData" in text or "inline_data" in text
        assert any("Answer with one word." in json.dumps(b.get("systemInstruction") or b.get("system_instruction"))
                   for b in bodies)
    s, recs = run_dir(tmp_path / "run")
    by = {r["example_id"]: r for r in recs}
    assert by["p1"]["media"] == [{"kind": "image", "name": "img/red.png", "media_type": "image/png",
                                  "sha256": _sha(files["img/red.png"]), "size": len(files["img/red.png"]),
                                  "width": 40, "height": 30}]
    assert by["d1"]["media"][0]["pages"] == 2 and by["d1"]["input"].endswith("[file: docs/invoice.pdf]")
    # the bytes never reach the run folder's records
    raw = (tmp_path / "run" / "records.jsonl").read_text()
    assert base64.b64encode(files["img/red.png"]).decode()[:40] not in raw
    assert all(r["input_tokens"] > 85 for r in recs)  # the image's tokens as the API reported them
    assert s["run"]["media"] == {"images": 2, "documents": 1, "pages": 2, "bytes": sum(map(len, files.values())),
                                 "examples": 3, "files": ["img/red.png", "img/blue.jpg", "docs/invoice.pdf"]}


def test_an_openai_compatible_server_gets_image_url_data_urls(fake, keys, tmp_path: Path) -> None:
    _project(tmp_path)
    fake.script("llava", answer=_answer)
    res = cli("eval", _req(tmp_path, [compat_cand(fake, "llava")]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    kinds = sorted(m["kind"] for s in fake.requests_for("llava") for m in s.media)
    assert kinds == ["document", "image", "image"]


@pytest.mark.parametrize("api", list(MAKERS))
def test_batch_apis_carry_the_images(fake, keys, tmp_path: Path, api: str) -> None:
    files = _project(tmp_path)
    fake.script("m", answer=_answer, batch_polls=1)
    res = cli("eval", _req(tmp_path, [MAKERS[api](fake, "m")], run={"latency_sample": 5}), "--out", tmp_path / "run",
              "--batch")
    assert res.exit_code in (0, 1), res.output
    sent = sorted(m["sha256"] for req in fake.batch_media for m in req)
    assert sent == sorted(_sha(b) for b in files.values())
    _, recs = run_dir(tmp_path / "run")
    assert all(r["error"] is None for r in recs if r["batch"]) and sum(r["batch"] for r in recs) == 3


def test_the_cache_keys_on_the_content_not_the_name(fake, keys, tmp_path: Path) -> None:
    _project(tmp_path)
    fake.script("m", answer=_answer)
    req = _req(tmp_path, [openai_cand(fake, "m")])
    assert cli("eval", req, "--out", tmp_path / "r1").exit_code == 0
    assert cli("eval", req, "--out", tmp_path / "r2").exit_code == 0
    assert len(fake.requests_for("m")) == 3  # the second run was served from the cache
    (tmp_path / "img" / "red.png").write_bytes(media_files.png(40, 30, (0, 200, 0)))  # same name, new picture
    assert cli("eval", req, "--out", tmp_path / "r3").exit_code == 0
    assert len(fake.requests_for("m")) == 4  # only the changed image is asked again
    _, recs = run_dir(tmp_path / "r3")
    assert sorted(r["example_id"] for r in recs if not r["cached"]) == ["p1"]


def test_a_template_candidate_sends_the_images_after_its_text(fake, keys, tmp_path: Path) -> None:
    _project(tmp_path)
    fake.script("m", answer=_answer)
    cand = anthropic_cand(fake, "m", prompt="Look closely. {{ input }}")
    assert cli("eval", _req(tmp_path, [cand]), "--out", tmp_path / "run").exit_code == 0
    first = next(s for s in fake.requests_for("m") if "red" in json.dumps(s.media) or s.media)
    blocks = first.body["messages"][-1]["content"]
    assert blocks[0]["type"] == "text" and blocks[0]["text"].startswith("Look closely.")
    assert blocks[1]["type"] in ("image", "document")


# --- what a model cannot take is decided before any call ------------------------------------------

def test_a_text_only_candidate_is_eliminated_with_the_fact_and_its_source(fake, keys, tmp_path: Path) -> None:
    _project(tmp_path)
    fake.script("m", answer=_answer)
    fake.script("t", answer=_answer)
    text_only = openai_cand(fake, "t", id="text-only")
    text_only["facts"] = {**text_only["facts"], "modalities": ["text"]}
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m"), text_only]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert fake.requests_for("t") == []
    s, _ = run_dir(tmp_path / "run")
    why = " ".join(s["decision"]["eliminated"]["text-only"])
    assert "does not accept image, pdf" in why and "the eval set has images and PDF documents" in why
    assert "requirements file" in why or "source" in why
    res = cli("check", tmp_path / "req.yaml")
    assert "text-only" in flat(res.output) and "does not accept image, pdf" in flat(res.output)


def test_the_embedded_model_reads_text_only_and_says_so(tmp_path: Path) -> None:
    from modelsel.providers.local_llama import LocalLlamaProvider

    _project(tmp_path)
    res = cli("check", _req(tmp_path, [{"id": "gemma", "provider": "local", "model": "gemma-3-270m-it"}]))
    out = flat(res.output)
    assert "gemma: does not accept image, pdf" in out and "the eval set has images and PDF documents" in out
    assert "reads a text prompt only" in LocalLlamaProvider.media_problem([])


def test_gemini_is_not_evaluated_on_an_image_it_would_have_to_fetch(fake, keys, tmp_path: Path) -> None:
    rows = [{"id": "u1", "input": [{"role": "user", "content": [
        {"type": "text", "text": "What colour is this?"},
        {"type": "image", "url": "https://example.com/cat.png"}]}], "expected": "red"}]
    _project(tmp_path, rows)
    fake.script("m", answer=_answer)
    fake.script("g", answer=_answer)
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m"), gemini_cand(fake, "g")]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert fake.requests_for("g") == []
    s, _ = run_dir(tmp_path / "run")
    assert "not by an outside URL" in s["decision"]["not_evaluated"]["ge-g"]
    sent = fake.requests_for("m")[0].body["messages"][0]["content"][1]
    assert sent == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def test_an_image_over_anthropic_s_5_mb_is_not_sent_there(fake, keys, tmp_path: Path) -> None:
    import os

    from PIL import Image

    noise = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))
    noise.save(tmp_path / "big.png", "PNG")
    assert (tmp_path / "big.png").stat().st_size > 5 * 2**20
    rows = [{"id": "b1", "input": [{"role": "user", "content": [{"type": "text", "text": "colour?"},
                                                                 {"type": "image", "path": "big.png"}]}], "expected": "red"}]
    _project(tmp_path, rows)
    fake.script("a", answer=_answer)
    fake.script("m", answer=_answer)
    res = cli("eval", _req(tmp_path, [anthropic_cand(fake, "a"), openai_cand(fake, "m")]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, _ = run_dir(tmp_path / "run")
    assert "takes images up to 5 MB" in s["decision"]["not_evaluated"]["an-a"] and fake.requests_for("a") == []


def test_shortlist_proposes_only_models_that_take_images(tmp_path: Path) -> None:
    from modelsel.catalog.shortlist import propose
    from modelsel.pipeline import prepare

    _project(tmp_path)
    req = _req(tmp_path, [{"catalog": "anthropic/claude-haiku-4-5"}])
    inp = prepare(req)
    props, _ = propose(inp.lr, inp.evalset, top=5)
    picked = [p for p in props if p.included]
    assert picked
    from modelsel.catalog.models import load_catalog

    cat = load_catalog()
    for p in picked:
        assert {"image", "pdf"} <= set(cat[p.id].fact("modalities") or []), p.id
    assert any("does not accept" in " ".join(p.out) for p in props)
    # its cost per request counts the images' tokens, by its provider's rule, not the text alone
    from modelsel.catalog.models import call_cost
    from modelsel.catalog.shortlist import as_candidate, token_profile

    ins, out = token_profile(inp.lr, inp.evalset)
    p = picked[0]
    text_only = sum(call_cost(as_candidate(cat[p.id]), t, out) for t in ins) / len(ins)
    assert p.cost_per_request_usd > text_only


# --- bad input: file, line and field, before anything is paid for --------------------------------

def _bad(tmp_path: Path, part: dict[str, Any], files: dict[str, bytes] | None = None) -> str:
    media_files.write(tmp_path, files or {})
    rows = [{"id": "ok", "input": "plain text", "expected": "x"},
            {"id": "x1", "input": [{"role": "user", "content": [{"type": "text", "text": "hi"}, part]}], "expected": "x"}]
    (tmp_path / "media.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = cli("check", write_req(tmp_path, [{"catalog": "openai/gpt-4.1"}], evalset="media.jsonl",
                                  scoring=[{"type": "contains"}]))
    assert res.exit_code == 2, res.output
    out = flat(res.output)
    assert "media.jsonl" in out and ":2" in out, out  # the eval set's file and line
    return out


def test_check_refuses_a_missing_file(tmp_path: Path) -> None:
    out = _bad(tmp_path, {"type": "image", "path": "nowhere.png"})
    assert "'nowhere.png' not found" in out and "input.0.content.1.path" in out


def test_check_refuses_a_file_whose_bytes_are_not_what_it_says(tmp_path: Path) -> None:
    out = _bad(tmp_path, {"type": "image", "path": "photo.png", "media_type": "image/png"},
               {"photo.png": media_files.jpeg()})
    assert "says media_type image/png but its bytes are image/jpeg" in out
    out = _bad(tmp_path, {"type": "image", "path": "notes.png"}, {"notes.png": b"just some text, not an image\n"})
    assert "not a PNG, JPEG, GIF, WebP or PDF file (by its first bytes)" in out
    out = _bad(tmp_path, {"type": "file", "path": "cat.pdf"}, {"cat.pdf": media_files.png()})
    assert "cat.pdf is image/png; an file part takes application/pdf" in out


def test_check_refuses_a_damaged_image_and_a_cut_pdf(tmp_path: Path) -> None:
    good = media_files.png(50, 50)
    out = _bad(tmp_path, {"type": "image", "path": "cut.png"}, {"cut.png": good[: len(good) // 2]})
    assert "cannot be read as image/png (damaged or cut short)" in out
    doc = media_files.pdf(1)
    out = _bad(tmp_path, {"type": "file", "path": "cut.pdf"}, {"cut.pdf": doc[:-20]})
    assert "not a whole PDF" in out


def test_check_refuses_an_oversized_file(tmp_path: Path) -> None:
    from modelsel.inputs.media import MAX_MEDIA_FILE_BYTES

    big = tmp_path / "huge.png"
    with open(big, "wb") as fh:
        fh.write(media_files.png())
        fh.truncate(MAX_MEDIA_FILE_BYTES + 1)
    out = _bad(tmp_path, {"type": "image", "path": "huge.png"})
    assert "huge.png is 20.0 MB; the limit is 20 MB a file" in out


def test_check_refuses_a_file_outside_the_project(tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.png"
    outside.write_bytes(media_files.png())
    proj = tmp_path / "proj"
    proj.mkdir()
    out = _bad(proj, {"type": "image", "path": f"../{outside.name}"})
    assert "outside" in out and "--allow-path" in out


def test_check_refuses_bad_inline_data_and_misplaced_images(tmp_path: Path) -> None:
    out = _bad(tmp_path, {"type": "image", "data": "not base64!!", "media_type": "image/png"})
    assert "'data' is not valid base64" in out
    out = _bad(tmp_path, {"type": "image", "data": base64.b64encode(media_files.png()).decode()})
    assert "inline data needs its media_type" in out
    out = _bad(tmp_path, {"type": "image", "path": "a.png", "url": "https://x/a.png"}, {"a.png": media_files.png()})
    assert "give exactly one of path, url or data" in out
    rows = [{"id": "s", "input": [{"role": "system", "content": [{"type": "image", "path": "a.png"}]},
                                  {"role": "user", "content": "hi"}]}]
    (tmp_path / "media.jsonl").write_text(json.dumps(rows[0]) + "\n")
    res = cli("check", tmp_path / "req.yaml")
    assert res.exit_code == 2 and "images and files go in a user message (this one is system)" in flat(res.output)


def test_too_many_images_in_one_example(tmp_path: Path) -> None:
    from modelsel.inputs.media import MAX_MEDIA_PARTS

    parts = [{"type": "image", "path": "a.png"}] * (MAX_MEDIA_PARTS + 1)
    media_files.write(tmp_path, {"a.png": media_files.png()})
    (tmp_path / "media.jsonl").write_text(json.dumps({"id": "many", "input": [{"role": "user", "content": parts}],
                                                      "expected": "x"}) + "\n")
    res = cli("check", write_req(tmp_path, [{"catalog": "openai/gpt-4.1"}], evalset="media.jsonl",
                                  scoring=[{"type": "contains"}]))
    assert res.exit_code == 2 and f"the limit is {MAX_MEDIA_PARTS} an example" in flat(res.output)


def test_inline_data_is_sent_and_hashed_like_a_file(fake, keys, tmp_path: Path) -> None:
    img = media_files.png(10, 10)
    rows = [{"id": "i1", "input": [{"role": "user", "content": [
        {"type": "text", "text": "What colour is this?"},
        {"type": "image", "data": base64.b64encode(img).decode(), "media_type": "image/png"}]}], "expected": "red"}]
    _project(tmp_path, rows)
    fake.script("m", answer=_answer)
    assert cli("eval", _req(tmp_path, [gemini_cand(fake, "m")]), "--out", tmp_path / "run").exit_code == 0
    assert fake.requests_for("m")[0].media[0]["sha256"] == _sha(img)
    _, recs = run_dir(tmp_path / "run")
    assert recs[0]["media"][0]["name"] == "inline" and recs[0]["media"][0]["sha256"] == _sha(img)
    assert base64.b64encode(img).decode() not in (tmp_path / "run" / "records.jsonl").read_text()


# --- estimates, costs, reports --------------------------------------------------------------------

def test_dry_run_estimates_image_tokens_by_each_provider_s_rule(fake, keys, tmp_path: Path) -> None:
    _project(tmp_path)
    cands = [openai_cand(fake, "m"), anthropic_cand(fake, "a"), gemini_cand(fake, "g")]
    res = cli("eval", _req(tmp_path, cands), "--dry-run")
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    # OpenAI: PNG 40x30 high = 85+170 = 255, JPEG at detail low = 85, 2 PDF pages x 765 = 1530
    assert "oa-m: input tokens include 1,870 for images and documents, an estimate" in out
    # Anthropic: ceil(40*30/750)=2, ceil(64*48/750)=5, 2 pages x 2,250
    assert "an-a: input tokens include 4,507" in out
    # Gemini: 258 + 258 + 2 x 258
    assert "ge-g: input tokens include 1,032" in out
    assert fake.seen == []


def test_cost_per_image_and_page_in_the_summary_and_the_record(fake, keys, tmp_path: Path) -> None:
    _project(tmp_path)
    fake.script("m", answer=_answer, input_tokens=1000, output_tokens=10)
    res = cli("eval", _req(tmp_path, [openai_cand(fake, "m", pin=1.0, pout=2.0)]), "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    s, _ = run_dir(tmp_path / "run")
    c = s["candidates"]["oa-m"]["cost"]
    per_call = (1000 * 1.0 + 10 * 2.0) / 1e6
    assert c["per_image_usd"] == pytest.approx(per_call) and c["per_image_n"] == 2
    assert c["per_page_usd"] == pytest.approx(per_call / 2) and c["per_page_n"] == 1
    md = (tmp_path / "run" / "decision.md").read_text()
    assert "### Cost per image and per page" in md and "$0.001020" in md
    assert "`img/red.png`" in md and "2 image(s), 1 PDF(s) (2 page(s))" in md


def test_the_html_drill_down_shows_a_small_thumbnail_in_one_file(fake, keys, tmp_path: Path) -> None:
    from PIL import Image

    files = {"big.png": media_files.png(900, 600)}
    media_files.write(tmp_path, files)
    rows = [{"id": "t1", "input": [{"role": "user", "content": [{"type": "text", "text": "colour?"},
                                                                 {"type": "image", "path": "big.png"}]}],
             "expected": "red"}]
    (tmp_path / "media.jsonl").write_text(json.dumps(rows[0]) + "\n")
    fake.script("m", answer="<script>alert(1)</script> red")
    assert cli("eval", _req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run").exit_code == 0
    page = (tmp_path / "run" / "report.html").read_text()
    import re

    uris = re.findall(r"data:image/jpeg;base64,[A-Za-z0-9+/=]+", page)
    assert len(uris) == 1
    import io

    with Image.open(io.BytesIO(base64.b64decode(uris[0].split(",", 1)[1]))) as im:
        assert max(im.size) <= 128 and im.size == (128, 85)
    assert "<script>alert(1)</script>" not in page  # the answer stays escaped
    assert 'src="http' not in page and "big.png" in page


def test_report_rescore_reads_the_run_s_own_copy_of_the_images(fake, keys, tmp_path: Path) -> None:
    _project(tmp_path)
    fake.script("m", answer=_answer)
    assert cli("eval", _req(tmp_path, [openai_cand(fake, "m")]), "--out", tmp_path / "run").exit_code == 0
    assert (tmp_path / "run" / "inputs" / "img" / "red.png").read_bytes() == (tmp_path / "img" / "red.png").read_bytes()
    (tmp_path / "img" / "red.png").unlink()  # the project's file is gone; the run kept its copy
    res = cli("report", tmp_path / "run", "--rescore")
    assert res.exit_code in (0, 1), res.output


# --- formulas -------------------------------------------------------------------------------------

def test_types_are_read_from_the_bytes() -> None:
    from modelsel.inputs.media import sniff

    assert sniff(media_files.png()) == "image/png" and sniff(media_files.jpeg()) == "image/jpeg"
    assert sniff(media_files.pdf()) == "application/pdf" and sniff(b"GIF89a....") == "image/gif"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp" and sniff(b"<svg>") is None


def _blob(w: int, h: int, detail: str | None = None) -> Any:
    from modelsel.inputs.media import Blob

    return Blob(kind="image", name="x.png", media_type="image/png", sha256="0" * 64, size=1, width=w, height=h,
                detail=detail)


@given(st.integers(1, 8000), st.integers(1, 8000))
def test_image_token_rules_stay_within_each_provider_s_documented_bounds(w: int, h: int) -> None:
    from modelsel.inputs.media import estimate_media_tokens

    b = _blob(w, h)
    oa = estimate_media_tokens("openai", [b])
    assert 255 <= oa <= 85 + 170 * 8  # at least one tile; at most 2048 x 768 in 512-px tiles
    assert estimate_media_tokens("openai", [_blob(w, h, "low")]) == 85
    an = estimate_media_tokens("anthropic", [b])
    assert 1 <= an <= 1568 * 1568 / 750 + 1
    ge = estimate_media_tokens("gemini", [b])
    assert ge % 258 == 0 and ge >= 258
    assert estimate_media_tokens("openai-compatible", [b]) == oa  # OpenAI's rule for servers speaking its API


@given(st.integers(1, 4000), st.integers(1, 4000), st.integers(1, 400))
def test_a_bigger_image_never_costs_fewer_tokens(w: int, h: int, grow: int) -> None:
    from modelsel.inputs.media import estimate_media_tokens

    # (not OpenAI's: it scales the short side to 768, so a larger image may use fewer tiles)
    for api in ("anthropic", "gemini"):
        assert estimate_media_tokens(api, [_blob(w + grow, h + grow)]) >= estimate_media_tokens(api, [_blob(w, h)])


def test_the_readme_states_the_media_limits_the_code_holds() -> None:
    from modelsel.inputs.media import limits_rows
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for row in limits_rows():
        assert row in readme


def test_import_promptfoo_keeps_image_vars_as_image_parts(tmp_path: Path, keys: dict[str, str], fake) -> None:
    import yaml

    src = tmp_path / "pf"
    files = {"imgs/r1.png": media_files.png(30, 20), "imgs/r2.jpg": media_files.jpeg(), "docs/a.pdf": media_files.pdf(1)}
    media_files.write(src, files)
    (src / "promptfooconfig.yaml").write_text(yaml.safe_dump({
        "prompts": ["Describe this picture: {{image}}"],
        "providers": ["openai:gpt-4.1-mini"],
        "tests": [{"vars": {"image": "file://imgs/r1.png"}, "assert": [{"type": "contains", "value": "red"}]},
                  {"vars": {"image": "file://imgs/r2.jpg"}, "assert": [{"type": "contains", "value": "blue"}]},
                  {"vars": {"image": "file://docs/a.pdf"}, "assert": [{"type": "contains", "value": "42"}]}]}))
    res = cli("import", "promptfoo", src / "promptfooconfig.yaml", "--dir", tmp_path / "proj", "--name", "pics")
    assert res.exit_code == 0, res.output
    es = tmp_path / "proj" / "evalsets" / "pics.jsonl"
    rows = [json.loads(x) for x in es.read_text().splitlines()]
    parts = rows[0]["input"][0]["content"]
    assert parts[0]["type"] == "text" and parts[1] == {"type": "image", "path": "pics-files/imgs/r1.png"}
    assert rows[2]["input"][0]["content"][1] == {"type": "file", "path": "pics-files/docs/a.pdf"}
    assert (tmp_path / "proj" / "evalsets" / "pics-files" / "imgs" / "r2.jpg").read_bytes() == files["imgs/r2.jpg"]
    res = cli("check", tmp_path / "proj" / "requirements" / "pics.yaml")
    assert res.exit_code != 2, res.output  # the copied files load: type, size and place all pass


def test_pdf_pages_are_counted_from_another_producer_s_file() -> None:
    """A PDF matplotlib writes (its own object layout) counts its pages, which per-page cost and the
    estimates rest on."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from modelsel.inputs.media import check_bytes

    buf = io.BytesIO()
    with PdfPages(buf) as pp:
        for _ in range(4):
            fig = plt.figure()
            pp.savefig(fig)
            plt.close(fig)
    assert check_bytes(buf.getvalue(), "file", None, "plot.pdf") == ("application/pdf", {"pages": 4})
    assert check_bytes(media_files.pdf(3), "file", "application/pdf", "x.pdf")[1] == {"pages": 3}
