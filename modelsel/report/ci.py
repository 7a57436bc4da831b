"""Where teams already look: the CI job's own page and its test reporters.

- `step_summary`: a short Markdown summary appended to $GITHUB_STEP_SUMMARY (status, the choice
  and fallback, the candidates with their intervals, what changed since the last decision, where
  the full record is).
- `junit_xml`: one test case per hard requirement per candidate (plus "a candidate qualifies" for
  eval, "the decision holds" for review), in the Apache Ant JUnit format that GitHub, GitLab,
  Jenkins and Azure test reporters read, with every element and attribute its strictest schema
  requires.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from modelsel.inputs.textfile import atomic_write, printable
from modelsel.report.fmt import HEADERS, results_rows
from modelsel.schema import Summary

SHOWN = ("candidate", "status", "quality", "p95", "monthly", "errors", "n")


_MD = re.compile(r"([\\`*_\[\]()!|#~])")


def _cell(s: Any) -> str:
    """Outside text for GitHub Markdown: one line, no control characters, every character that could
    open emphasis, a code span, a link or an image escaped, no HTML, and no @-mention (an @ pings)."""
    text = " ".join(printable(str(s)).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD.sub(r"\\\1", text).replace("@", "&#64;")


def step_summary(s: Summary, folder: Path, changed: list[str] | None = None, review: Any = None) -> str:
    d = s.decision
    name = s.requirements.get("name") or "LLM selection"
    L = [f"## modelsel: {_cell(name)}", ""]
    if review is not None:
        L.append(f"**{'The decision holds' if review.holds else 'The decision no longer holds'}**: "
                 f"chosen before **{_cell(review.chosen_before)}**, now **{_cell(review.chosen_now)}**.")
    if d.chosen:
        L.append(f"**Choose {_cell(d.chosen)}**" + (f", fallback **{_cell(d.fallback)}**." if d.fallback else
                                                       " (no fallback: no other candidate qualifies)."))
    else:
        L.append("**No candidate meets the requirements.**")
    if d.rule:
        L.append(f"Rule: {_cell(d.rule)}.")
    for note in d.lifecycle:
        L.append(f"- :warning: {_cell(note)}")
    if d.partial_data:
        L.append(f"- :warning: partial data: {_cell(d.partial_data)}")
    L += ["", "| " + " | ".join(HEADERS[k] for k in SHOWN) + " |", "|" + "---|" * len(SHOWN)]
    for r in results_rows(s):
        L.append("| " + " | ".join(_cell(r[k]) for k in SHOWN) + " |")
    out = [(cid, c) for cid, c in s.candidates.items() if c.status in ("eliminated", "not_evaluated")]
    if out:  # why each candidate is out, in the record's own words
        L += ["", "Out of the running:", ""]
        L += [f"- {_cell(cid)}: {_cell('; '.join(c.reasons) or c.status)}" for cid, c in out]
    if review is not None:
        L += ["", "What the review found (failing first):", ""]
        L += [f"- {':x:' if not f.holds else ':white_check_mark:'} {_cell(f.text)}" for f in review.findings]
    elif changed:
        L += ["", "Since the last decision:", ""] + [f"- {_cell(c)}" for c in changed]
    L += ["", f"Full record: `{folder / 'decision.md'}` and `{folder / 'report.html'}` (in the run folder, uploaded as "
              "the job's artifact)."]
    return "\n".join(L) + "\n"


def append_step_summary(text: str) -> Path | None:
    """Append to the job page when running in GitHub Actions; nothing otherwise."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return Path(target)


_JUNIT_MD = re.compile(r"([\\\[\]<>`])")


def _inert(s: Any) -> str:
    """Outside text for a JUnit file: test reporters (GitHub check summaries, action-junit-report)
    render names and messages as Markdown, so no link, image, HTML tag or code span may open in one:
    brackets, angle brackets, backslashes and backticks are backslash-escaped; XML's own escaping
    comes after."""
    return _JUNIT_MD.sub(r"\\\1", " ".join(printable(str(s)).split()))


def _inert_lines(text: str) -> str:
    return "\n".join(_inert(line) for line in text.splitlines())


def _case(classname: str, name: str, failure: str | None = None, skipped: str | None = None, detail: str = "") -> str:
    head = f"    <testcase classname={quoteattr(_inert(classname))} name={quoteattr(_inert(name))} time=\"0\""
    if failure is not None:
        return (f"{head}><failure message={quoteattr(_inert(failure))} type=\"requirement\">"
                f"{escape(_inert(detail or failure))}</failure></testcase>")
    if skipped is not None:
        return f"{head}><skipped message={quoteattr(_inert(skipped))}/></testcase>"
    return f"{head}/>"


def junit_xml(s: Summary, review: Any = None, now: datetime | None = None) -> str:
    """One testcase per hard requirement per evaluated candidate: passed, at risk (passed, said in
    the message of the suite's output) or failed; plus the decision's own case."""
    now = now or datetime.now()
    cases: list[str] = []
    failures = skipped = 0
    notes: list[str] = []
    for cid, c in s.candidates.items():
        if c.status == "not_evaluated":
            cases.append(_case(cid, "evaluated", skipped=" ".join(c.reasons)))
            skipped += 1
            continue
        reasons = c.reasons if c.status == "eliminated" and not c.checks else []
        for i, r in enumerate(reasons, 1):  # case names unique: some reporters merge cases of one name
            cases.append(_case(cid, "compliance" if len(reasons) == 1 else f"compliance ({i} of {len(reasons)})",
                               failure=r))
            failures += 1
        if not reasons:  # every candidate gets its compliance case: passed (at risk where a fact is unknown)
            risks = [r for r in s.decision.at_risk.get(cid, []) if r.startswith("compliance: ")]
            cases.append(_case(cid, "compliance (at risk)" if risks else "compliance"))
            notes += [f"{cid} {r}" for r in risks]
        for chk in c.checks:
            if chk.status == "fail":
                failures += 1
                cases.append(_case(cid, chk.requirement, failure=chk.text))
            else:
                # an at-risk pass shows in the case's own name: reporters show no per-case output
                at_risk = chk.status in ("at_risk", "unmeasured")
                cases.append(_case(cid, f"{chk.requirement} (at risk)" if at_risk else chk.requirement))
                if at_risk:
                    notes.append(f"{cid} {chk.requirement}: at risk: {chk.text}")
    if review is not None:
        bad = [f.text for f in review.findings if not f.holds]
        cases.append(_case("decision", "decision holds", failure="; ".join(bad)) if bad else _case("decision", "decision holds"))
        failures += bool(bad)
    else:
        ok = s.decision.chosen is not None
        cases.append(_case("decision", "a candidate meets every requirement") if ok else
                     _case("decision", "a candidate meets every requirement", failure="no candidate qualifies"))
        failures += not ok
    name = s.requirements.get("name") or "modelsel"
    suite = (f"  <testsuite name={quoteattr(_inert(name))} package=\"modelsel\" id=\"0\" tests=\"{len(cases)}\" "
             f"failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\" "
             f"timestamp=\"{now.strftime('%Y-%m-%dT%H:%M:%S')}\" hostname={quoteattr(socket.gethostname() or 'localhost')}>")
    props = ["    <properties>"] + [f"      <property name={quoteattr(k)} value={quoteattr(str(v))}/>" for k, v in (
        ("chosen", s.decision.chosen or ""), ("fallback", s.decision.fallback or ""), ("rule", s.decision.rule or ""),
        ("modelsel", s.modelsel_version))] + ["    </properties>"]
    out = "\n".join(notes)
    # XML 1.0 forbids most control characters: one in a requirements fact would make the file unreadable
    return printable("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n" + suite + "\n" + "\n".join(props) + "\n"
            + "\n".join(cases) + f"\n    <system-out>{escape(_inert_lines(out))}</system-out>\n    <system-err></system-err>\n"
            "  </testsuite>\n</testsuites>\n")


def write_outputs(summary: Any, folder: Path, junit: Path | None, changed: list[str], review: Any = None,
                  summary_md: Path | None = None) -> list[str]:
    """The CI job's page ($GITHUB_STEP_SUMMARY), a Markdown copy and a JUnit report, when asked for;
    the files written."""
    text = step_summary(summary, folder, changed, review)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_step_summary(text)
    if summary_md is not None:
        atomic_write(summary_md, text)
    if junit is not None:
        atomic_write(junit, junit_xml(summary, review))
        return [str(junit)]
    return []
