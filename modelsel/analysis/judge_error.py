"""The judge's own error, measured on the judge_check set and carried into the figures. Pure: no I/O.

A judge that agrees with people 85% of the time turns a true 0.90 into about 0.78, and the exact
interval around 0.78 covered 0.90 in 19% of runs; a judge lenient on one candidate made two equal
models differ in 23-29% (benchmarks/judge_error.py). With answers people marked pass or fail, the
judge's sensitivity (Se: it passes what people pass) and specificity (Sp: it fails what they fail)
are measured per candidate, and:

- quality is the Rogan-Gladen corrected share, (p + Sp - 1) / (Se + Sp - 1), p the share the judge
  passed; its interval recovers the three intervals (p, Se, Sp, each at 95%: p by the method that
  fits the scores, Se and Sp exact) by MOVER: each end moves from the estimate by the root of the sum
  of squares of the moves each one interval alone makes (the formula is monotone in each, so each
  move is at an end of its interval). It covered 94.4-98.8% over judges 70-99% right, check sets of
  20-400 and truths 0.2-0.99; a Bonferroni box over the three (each at 98.3%) covered 100% at 1.4-2.5
  times the width. Where Se + Sp - 1 can reach 0 (a judge not shown better than chance), 0 to 1.
- 'better' is refused where the judge's measured bias between two candidates could explain the gap:
  the bias is (Se_a - Se_b) * pi + (Sp_b - Sp_a) * (1 - pi), each difference with its 95% interval
  by MOVER, and the paired gap less that bias (MOVER again) must be shown above 0 at both ends of
  pi's range. Two equal models under a judge lenient on one: called different in 23% of runs
  without a check set, 0% with 100 checks each; a fair judge costs power (80% -> 44% at 100 checks
  each, 64% at 300): what the check set cannot rule out is not claimed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from modelsel.analysis import stats
from modelsel.inputs.judge_check import CheckRow
from modelsel.run.calls import CallArrays
from modelsel.schema import Figures, JudgeAgreement, Rate

NO_CHECK = ("The judge's own error is not in any interval: no judge_check set measured it. A judge that agrees with "
            "people 85% of the time shows a true 0.90 as about 0.78; add judge_check (answers a person marked pass "
            "or fail) to measure it and correct for it.")


def _rate(k: int, n: int, conf: float = stats.CONF) -> Rate:
    if not n:
        return Rate(n=0)
    lo, hi = stats.clopper_pearson(k, n, conf)
    return Rate(value=round(k / n, 6), lo=round(lo, 6), hi=round(hi, 6), n=n)


def rows_for(rows: Iterable[CheckRow], cid: str) -> list[CheckRow]:
    """The graded rows that speak for a candidate's answers: its own, and those naming no candidate."""
    return [r for r in rows if r.judged is not None and r.candidate in (None, cid)]


def agreement(rows: list[CheckRow], cid: str, conf: float = stats.CONF) -> JudgeAgreement:
    mine = rows_for(rows, cid)
    pos = [r for r in mine if r.truth]
    neg = [r for r in mine if not r.truth]
    return JudgeAgreement(n=len(mine), own=sum(r.candidate == cid for r in mine),
                          agreement=_rate(sum(r.judged == r.truth for r in mine), len(mine), conf),
                          sensitivity=_rate(sum(bool(r.judged) for r in pos), len(pos), conf),
                          specificity=_rate(sum(not r.judged for r in neg), len(neg), conf))


def rogan_gladen(p: float, se: float, sp: float) -> float | None:
    j = se + sp - 1
    return None if j <= 0 else min(1.0, max(0.0, (p + sp - 1) / j))


def corrected(p: tuple[float, float, float], se: tuple[float, float, float], sp: tuple[float, float, float]
              ) -> tuple[float, float, float]:
    """(estimate, lo, hi) of the true share from the judged share p and the judge's Se and Sp, each given
    as (estimate, lo, hi) at 95%: MOVER over the three, each one's move taken at its interval's ends
    with the others at their estimates."""
    est = rogan_gladen(p[0], se[0], sp[0])
    if est is None:
        return p[0], 0.0, 1.0
    down = up = 0.0
    for i, t in enumerate((p, se, sp)):
        moved = []
        for end in t[1:]:
            args = [p[0], se[0], sp[0]]
            args[i] = end
            v = rogan_gladen(*args)
            if v is None:
                return est, 0.0, 1.0
            moved.append(v)
        down += max(0.0, est - min(moved)) ** 2
        up += max(0.0, max(moved) - est) ** 2
    return est, max(0.0, est - math.sqrt(down)), min(1.0, est + math.sqrt(up))


def _exact(k: int, n: int) -> tuple[float, float, float]:
    if not n:
        return math.nan, 0.0, 1.0
    lo, hi = stats.clopper_pearson(k, n)
    return k / n, lo, hi


def judged_share(arr: CallArrays) -> tuple[np.ndarray, list[str], float]:
    """Per example, the share of its answered calls the judge passed; their clusters; and the share of
    calls answered (an error is a failed answer whatever the judge would have said: it scales the
    corrected share)."""
    ok = ~arr.error & (arr.passed >= 0)
    ids = list(dict.fromkeys(arr.example[ok].tolist()))
    pos = {e: i for i, e in enumerate(ids)}
    inv = np.array([pos[e] for e in arr.example[ok].tolist()], dtype=np.int64)
    n = np.bincount(inv, minlength=len(ids)).astype(float)
    vals = np.bincount(inv, weights=(arr.passed[ok] == 1).astype(float), minlength=len(ids)) / n
    cluster_of = dict(zip(arr.example.tolist(), arr.cluster.tolist(), strict=True))
    counted = ok | arr.error  # unscored answers (the budget guard stopped the judge) are out of quality
    answered = float(ok.sum() / counted.sum()) if counted.sum() else 1.0
    return vals, [cluster_of[e] for e in ids], answered


def correct_quality(f: Figures, arr: CallArrays, rows: list[CheckRow], cid: str) -> None:
    """Quality's mean and interval for one candidate, corrected for the judge's error (in place)."""
    from modelsel.analysis.metrics import _interval  # the interval that fits the per-example shares

    mine = rows_for(rows, cid)
    pos = [r for r in mine if r.truth]
    neg = [r for r in mine if not r.truth]
    vals, cl, answered = judged_share(arr)
    q, ja = f.quality, f.judge
    assert ja is not None
    if not len(vals):
        ja.note = f"not corrected: the judge graded no answer of '{cid}'"
        return
    pm, plo, phi, _ = _interval(vals, cl, stats.CONF)
    if q.missing:  # examples never asked (a deadline, the budget): anything from 0 to 1, as quality() counts them
        more = [f"\0unasked{i}" for i in range(q.missing)]
        plo = _interval(np.concatenate([vals, np.zeros(q.missing)]), cl + more, stats.CONF)[1]
        phi = _interval(np.concatenate([vals, np.ones(q.missing)]), cl + more, stats.CONF)[2]
    se = _exact(sum(bool(r.judged) for r in pos), len(pos))
    sp = _exact(sum(not r.judged for r in neg), len(neg))
    if math.isnan(se[0]) or math.isnan(sp[0]):
        ja.note = (f"not corrected: the judge_check set has no answer people {'passed' if not pos else 'failed'} "
                   f"for '{cid}', so the judge's {'sensitivity' if not pos else 'specificity'} is unknown")
        return
    est, lo, hi = corrected((pm, max(0.0, plo), min(1.0, phi)), se, sp)
    ja.judged_mean, ja.judged_lo, ja.judged_hi = q.mean, q.lo, q.hi
    q.mean, q.lo, q.hi = round(est * answered, 6), round(lo * answered, 6), round(hi * answered, 6)
    q.method = "judge_rogan_gladen"
    ja.corrected = True


def judge_only(specs_per_example: Iterable[set[str]]) -> bool:
    """Every example scored by the judge alone: the score is the judge's verdict, so its error is the score's."""
    return all(t == {"judge"} for t in specs_per_example)


def apply(figs: dict[str, Figures], arr: CallArrays, rows: list[CheckRow], only_judge: bool) -> None:
    """Each candidate's agreement with people, and (when the judge alone scores) quality corrected."""
    from modelsel.analysis.metrics import quality_rows

    q = quality_rows(arr)
    for cid, f in figs.items():
        f.judge = agreement(rows, cid)
        if not f.judge.n:
            f.judge.note = f"not corrected: no graded judge_check row speaks for '{cid}'s answers"
        elif not only_judge:
            f.judge.note = ("not corrected: other scorers share the score with the judge, so the judge's error is "
                            "shown beside quality, not carried into it")
        else:
            correct_quality(f, q.of(cid), rows, cid)


def bias(best: Figures, other: Figures) -> tuple[float, float, float, float] | None:
    """How much the judge's measured bias could lift `best`'s judged quality over `other`'s were both
    truly equal: (Se_best - Se_other) * pi + (Sp_other - Sp_best) * (1 - pi). Returns (estimate, upper
    end) at each end of pi's range (both qualities' intervals): (b_lo_pi, u_lo_pi, b_hi_pi, u_hi_pi), each
    difference's 95% interval by MOVER from the exact ones. None when the check set cannot tell the
    two apart (no row names either: the same rows speak for both, so a bias between them is unmeasured)."""
    a, b = best.judge, other.judge
    if a is None or b is None or not (a.own or b.own):
        return None

    def diff(x: Rate, y: Rate) -> tuple[float, float]:
        if x.value is None or y.value is None or x.lo is None or x.hi is None or y.lo is None or y.hi is None:
            return 0.0, 1.0  # one side unmeasured: nothing ruled out
        return x.value - y.value, stats.mover_difference((x.value, x.lo, x.hi), (y.value, y.lo, y.hi))[1]

    (se, se_u), (sp, sp_u) = diff(a.sensitivity, b.sensitivity), diff(b.specificity, a.specificity)
    ends = [v for v in (best.quality.lo, best.quality.hi, other.quality.lo, other.quality.hi) if v is not None] or [0.0, 1.0]
    lo_pi, hi_pi = min(ends), max(ends)
    return (se * lo_pi + sp * (1 - lo_pi), se_u * lo_pi + sp_u * (1 - lo_pi),
            se * hi_pi + sp * (1 - hi_pi), se_u * hi_pi + sp_u * (1 - hi_pi))


def net_gap_lo(best: Figures, other: Figures, diff: float, lo: float) -> tuple[float, float] | None:
    """The lower end of the judged gap net of the judge's bias, and the bias's upper end, at the worse end
    of pi: (diff - b) - sqrt((diff - lo)^2 + (u - b)^2), MOVER over the paired interval and the bias's.
    None when the bias between the two is not measured."""
    got = bias(best, other)
    if got is None:
        return None
    out = [((diff - b) - math.sqrt((diff - lo) ** 2 + (u - b) ** 2), u) for b, u in (got[:2], got[2:])]
    return min(out)


def refusal(best: str, other: str, bound: float, fa: Figures, fb: Figures) -> str:
    a, b = fa.judge, fb.judge
    assert a is not None and b is not None

    def pct(r: Rate) -> str:
        return "n/a" if r.value is None else f"{r.value * 100:.0f}% (n={r.n})"

    return (f"'{best}' is not shown better than '{other}': the judge's measured bias between them could explain the "
            f"gap. On the judge_check set it passed {pct(a.sensitivity)} of the answers of '{best}' people passed "
            f"against {pct(b.sensitivity)} of those of '{other}', and failed {pct(a.specificity)} against "
            f"{pct(b.specificity)} of those people failed; that could lift '{best}' by up to {bound * 100:.1f} points, "
            "and the gap less that bias is not shown above 0")


def note(rows: list[CheckRow] | None, figs: dict[str, Figures], judged: bool) -> str:
    """The record's sentence on the judge's error: how it enters the figures, or that it does not."""
    if not judged:
        return ""
    if rows is None:
        return NO_CHECK
    done = [c for c, f in figs.items() if f.judge is not None and f.judge.corrected]
    left = {c: f.judge.note for c, f in figs.items() if f.judge is not None and not f.judge.corrected}
    named = any(r.candidate for r in rows)
    out = (f"The judge graded {sum(r.judged is not None for r in rows)} answers people had marked pass or fail "
           "(judge_check). ")
    if done:
        out += ("Quality is the share of answers people would pass: the share the judge passed, corrected for its "
                "sensitivity and specificity on those answers (Rogan-Gladen), with an interval that carries the "
                "uncertainty of all three (their 95% intervals recovered into one by MOVER)"
                f" for {', '.join(repr(c) for c in done)}. ")
    if left:
        out += " ".join(f"'{c}': {why}." for c, why in left.items()) + " "
    out += ("'Better' is refused where the judge's measured bias between two candidates could explain the gap."
            if named else "No row names a candidate, so a judge more lenient on one candidate than another is not "
            "measured: name the candidate whose answer each row is to measure it.")
    return out
