"""What a PM defends a decision with, computed from the calls: whether it is decided or only
provisional, what the requirements' own words say must not happen and whether it did, which
examples the chosen model gets right that the baseline does not (and the reverse), and for label
tasks what it answered for each expected label. Pure: no I/O."""

from __future__ import annotations

import re
from typing import Any

from modelsel.run.calls import CallArrays
from modelsel.schema import Decision, Evidence, Figures, Unacceptable, Versus

# Words that tie a "must not" sentence of the Context to a tag of the eval set.
_TAG_WORDS = {"adversarial": ("inject", "adversarial", "jailbreak", "talks the model", "manipulat")}
_MUST_NOT = re.compile(r"[^.;]*\b(must not|must never|never|cannot be allowed|is not acceptable)\b[^.;]*[.;]?", re.I)
SHOWN = 5  # example ids named per line


def _passed_by_example(arr: CallArrays, cid: str) -> dict[str, bool]:
    """Each example's outcome for one candidate: passed on most of its repeats (an error fails)."""
    a = arr.of(cid)
    out: dict[str, list[bool]] = {}
    for ex, ok, err in zip(a.example.tolist(), a.passed.tolist(), a.error.tolist(), strict=True):
        out.setdefault(ex, []).append(bool(ok > 0) and not err)
    return {ex: sum(v) * 2 > len(v) for ex, v in out.items()}


def must_not_sentences(task: str) -> list[str]:
    return [" ".join(m.group(0).split()).strip(" ;") for m in _MUST_NOT.finditer(task or "")]


def implied_must_pass(task: str, tags: set[str], must_pass: list[str]) -> list[tuple[str, str]]:
    """(sentence, tag) where the Context says something must not happen, the eval set has the tag
    that tests it, and the requirements do not make that tag a must-pass."""
    out = []
    for sentence in must_not_sentences(task):
        tag = next((t for t, words in _TAG_WORDS.items() if any(w in sentence.lower() for w in words)), None)
        if tag and tag in tags and tag not in must_pass:
            out.append((sentence, tag))
    return out


def _versus(arr: CallArrays, d: Decision, figs: dict[str, Figures]) -> Versus | None:
    if not d.chosen:
        return None
    if d.fallback:
        base, why = d.fallback, "the fallback"
    else:
        others = [c for c in figs if c != d.chosen and figs[c].n]
        if not others:
            return None
        base, why = max(others, key=lambda c: figs[c].quality.mean or 0.0), "the runner-up"
    a, b = _passed_by_example(arr, d.chosen), _passed_by_example(arr, base)
    shared = [ex for ex in a if ex in b]
    return Versus(baseline=base, why=why, chosen_only=[ex for ex in shared if a[ex] and not b[ex]],
                  baseline_only=[ex for ex in shared if b[ex] and not a[ex]],
                  both_right=sum(a[ex] and b[ex] for ex in shared), both_wrong=sum(not a[ex] and not b[ex] for ex in shared))


def _confusion(arr: CallArrays, cid: str, expected: dict[str, Any]) -> dict[str, dict[str, int]]:
    a = arr.of(cid)
    if not len(a) or not (a.label != "").any():
        return {}
    out: dict[str, dict[str, int]] = {}
    for ex, lab, err in zip(a.example.tolist(), a.label.tolist(), a.error.tolist(), strict=True):
        exp = expected.get(ex)
        if not isinstance(exp, str):
            continue
        got = "(error)" if err else (lab or "(no label)")
        row = out.setdefault(exp.lower(), {})
        row[got] = row.get(got, 0) + 1
    return out


def evidence(arr: CallArrays, figs: dict[str, Figures], d: Decision, req: Any, expected: dict[str, Any]) -> Evidence:
    ev = Evidence()
    ev.status = "none" if not d.chosen else ("provisional" if d.not_evaluated or d.partial_data or d.evidence_missing
                                             else "decided")
    ev.provisional_because = ([f"{cid} is judged (not evaluated: {why})" for cid, why in d.not_evaluated.items()]
                              + (["the missing answers are measured (partial run)"] if d.partial_data else [])
                              + (["enough clusters are measured to separate the survivors (the evidence to choose "
                                  "between them is missing)"] if d.evidence_missing else []))
    focus = [c for c in (d.chosen, d.fallback) if c and c in figs]
    tags = list(dict.fromkeys([*req.quality.must_pass, *(t for t in _TAG_WORDS if any(
        t in (figs[c].by_tag or {}) for c in focus))]))
    for c in focus:
        a = arr.of(c)
        passed = _passed_by_example(arr, c)
        for t in tags:
            ids = sorted({ex for ex, ts in zip(a.example.tolist(), a.tags, strict=True) if t in ts})
            failed = [ex for ex in ids if not passed.get(ex, False)]
            if ids:
                ev.tag_failures.setdefault(c, {})[t] = failed
                ev.tag_tested.setdefault(c, {})[t] = len(ids)
    ev.must_not = must_not_sentences(req.task)
    for rule in req.quality.unacceptable:
        u = Unacceptable(rule=rule, checked=False)
        for c in focus:
            a = arr.of(c)
            checked = a.valid >= 0
            if checked.any():
                u.checked = True
                bad = checked & (a.valid == 0)
                u.counts[c], u.n[c] = int(bad.sum()), int(checked.sum())
                u.examples[c] = [str(x) for x in a.example[bad][:SHOWN].tolist()]
        ev.unacceptable.append(u)
    ev.versus = _versus(arr, d, figs)
    for c in ([d.chosen, ev.versus.baseline] if d.chosen and ev.versus else focus):
        if (m := _confusion(arr, c, expected)):
            ev.confusion[c] = m
    ev.risks = _risks(ev, d, req)
    return ev


def _named(ids: list[str]) -> str:
    return ", ".join(ids[:SHOWN]) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def _risks(ev: Evidence, d: Decision, req: Any) -> list[str]:
    """The requirements' own words first (what must not happen, and whether it did), then the
    checks at risk; one line each, never the same line twice."""
    out: list[str] = []
    chosen = d.chosen
    for sentence in ev.must_not:
        tag = next((t for t, words in _TAG_WORDS.items() if any(w in sentence.lower() for w in words)), None)
        fails = ev.tag_failures.get(chosen or "", {}).get(tag) if tag else None
        if tag and fails is not None:
            tested = ev.tag_tested.get(chosen or "", {}).get(tag, 0)
            out.append(f"\"{sentence}\": {len(fails)} of {tested} {tag} example(s) got through with {chosen}"
                       + (f" ({_named(fails)})." if fails else ".")
                       + (f" The Context implies a requirement that was not written as one: '{tag}' is not a "
                          f"must-pass, so the choice did not depend on it (`modelsel check` proposes "
                          f"`quality.must_pass: [{tag}]`)." if fails and tag not in req.quality.must_pass else ""))
        else:
            out.append(f"\"{sentence}\": no scorer checks this; read the answers in report.html before relying on it.")
    for u in ev.unacceptable:
        if not u.checked:
            out.append(f"Unacceptable, in the requirements' words, \"{u.rule}\": modelsel cannot check this "
                       "automatically; review the answers.")
            continue
        for c, k in u.counts.items():
            out.append(f"Unacceptable, \"{u.rule}\": {c} gave {k} such answer(s) in {u.n[c]} calls"
                       + (f" ({_named(u.examples[c])})." if k else "."))
    for c, by in ev.tag_failures.items():
        for t, failed in by.items():
            if t in req.quality.must_pass and failed:
                out.append(f"Must pass '{t}': {c} failed {len(failed)} ({_named(failed)}).")
    # checks at risk, of the chosen model and its fallback (what production would run), each check once
    # with every candidate it applies to
    by_text: dict[str, list[str]] = {}
    for cid in [c for c in (d.chosen, d.fallback) if c]:
        for r in d.at_risk.get(cid, []):
            by_text.setdefault(r, []).append(cid)
    for r, cids in by_text.items():
        out.append(f"At risk for {' and '.join(cids)}: {r}.")
    seen: set[str] = set()
    return [x for x in out if not (x in seen or seen.add(x))]
