"""Decisions across quarters: one row per run in a SQLite store beside the response cache
(reports/.cache/history.sqlite), with its schema versioned by migrations. Every `eval` and
`review` appends its run; run folders already on disk are indexed on first use from their
summary.json, so the history starts with the runs a team already has.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelsel.errors import InputError

SCHEMA = 2
# Migration N brings a store from schema N-1 to N. Add to the end; never edit one that shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, folder TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
        started_at TEXT, finished_at TEXT, requirements_sha256 TEXT, evalset_sha256 TEXT, modelsel_version TEXT,
        chosen TEXT, rule TEXT, fallback TEXT, n_examples INTEGER, price_snapshot TEXT, holds INTEGER
    );
    CREATE TABLE candidates (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, candidate TEXT NOT NULL, status TEXT,
        quality REAL, quality_lo REAL, quality_hi REAL, p50_ms REAL, p95_ms REAL, cost_per_request_usd REAL,
        monthly_usd REAL, error_rate REAL, price_in REAL, price_out REAL, PRIMARY KEY (run_id, candidate)
    );
    CREATE INDEX runs_by_name ON runs(name, finished_at);
    """,
    # 2: the all-in monthly figure (API and hosting plus the failed answers' cost) beside the bill
    "ALTER TABLE candidates ADD COLUMN total_monthly_usd REAL;",
]


@dataclass
class CandidateRow:
    candidate: str
    status: str | None = None
    quality: float | None = None
    quality_lo: float | None = None
    quality_hi: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    cost_per_request_usd: float | None = None
    monthly_usd: float | None = None
    error_rate: float | None = None
    price_in: float | None = None
    price_out: float | None = None
    total_monthly_usd: float | None = None  # all in: the bill plus the failed answers' cost


@dataclass
class RunRow:
    run_id: str
    folder: str
    name: str
    kind: str  # eval | review
    started_at: str | None
    finished_at: str | None
    requirements_sha256: str | None
    evalset_sha256: str | None
    modelsel_version: str | None
    chosen: str | None
    rule: str | None
    fallback: str | None
    n_examples: int | None
    price_snapshot: str | None
    holds: bool | None = None
    candidates: dict[str, CandidateRow] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)  # since the previous run of the same name
    comparable: bool = True  # same eval set as the previous run: one trend line

    @property
    def date(self) -> str:
        return (self.finished_at or self.started_at or "")[:10]

    def chosen_row(self) -> CandidateRow | None:
        return self.candidates.get(self.chosen) if self.chosen else None

    def as_json(self) -> dict[str, Any]:
        c = self.chosen_row()
        return {"run": self.run_id, "date": self.date, "folder": self.folder, "kind": self.kind, "chosen": self.chosen,
                "rule": self.rule, "fallback": self.fallback, "quality": c.quality if c else None,
                "quality_lo": c.quality_lo if c else None, "quality_hi": c.quality_hi if c else None,
                "p95_ms": c.p95_ms if c else None, "monthly_usd": c.monthly_usd if c else None,
                "total_monthly_usd": c.total_monthly_usd if c else None,
                "requirements_sha256": self.requirements_sha256, "evalset_sha256": self.evalset_sha256,
                "modelsel_version": self.modelsel_version, "changes": self.changes, "comparable": self.comparable,
                "holds": self.holds, "candidates": {k: v.__dict__ for k, v in self.candidates.items()}}


def store_path(reports_root: Path) -> Path:
    return reports_root / ".cache" / "history.sqlite"


def _g(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _summary_row(data: dict[str, Any], folder: Path) -> RunRow:
    """An eval's or a review's row: a review folder holds review.json beside its summary."""
    review = folder / "review.json"
    holds = bool(json.loads(review.read_text(encoding="utf-8")).get("holds")) if review.exists() else None
    return row_from_summary(data, folder, "review" if review.exists() else "eval", holds)


def row_from_summary(s: dict[str, Any], folder: Path, kind: str = "eval", holds: bool | None = None) -> RunRow:
    """A history row from a summary.json of schema 2, or of schema 1 (written before the store
    existed: the fields it lacks stay empty)."""
    run, d, req = s.get("run") or {}, s.get("decision") or {}, s.get("requirements") or {}
    v2 = s.get("schema_version") == 2
    name = req.get("name") or Path(str(run.get("requirements", "requirements"))).stem
    row = RunRow(run_id=folder.name + "@" + str(run.get("finished_at") or run.get("started_at") or ""), folder=str(folder),
                 name=name, kind=kind, started_at=run.get("started_at"), finished_at=run.get("finished_at"),
                 requirements_sha256=run.get("requirements_sha256"), evalset_sha256=run.get("evalset_sha256"),
                 modelsel_version=s.get("modelsel_version"), chosen=d.get("chosen"), rule=d.get("rule"),
                 fallback=d.get("fallback"), n_examples=run.get("n_examples"),
                 price_snapshot=_g(run, "prices", "version"), holds=holds)
    for cid, c in (s.get("candidates") or {}).items():
        lat = c.get("latency") or {}
        row.candidates[cid] = CandidateRow(
            candidate=cid, status=c.get("status"), quality=_g(c, "quality", "mean"), quality_lo=_g(c, "quality", "lo"),
            quality_hi=_g(c, "quality", "hi"),
            p50_ms=_g(lat, "p50", "value") if v2 else lat.get("p50_ms"),
            p95_ms=_g(lat, "p95", "value") if v2 else lat.get("p95_ms"),
            cost_per_request_usd=_g(c, "cost", "per_request_usd"), monthly_usd=_g(c, "cost", "monthly_usd"),
            error_rate=_g(c, "error_rate", "value"), price_in=_g(c, "price", "input_per_mtok"),
            price_out=_g(c, "price", "output_per_mtok"), total_monthly_usd=_g(c, "cost", "total_monthly_usd"))
    return row


def row_from_trial(t: dict[str, Any], folder: Path) -> RunRow:
    """A live trial's latest look as a history row beside the evals (`modelsel trial` writes trial.json):
    `chosen` is the challenger, `holds` whether it held up (None: not decided yet), `rule` the finding;
    its figures are production's (p50/p95, cost per request, error rate), never an eval's quality."""
    sig = t.get("signals") or {}
    row = RunRow(run_id=folder.name + "@trial", folder=str(folder), name=str(t.get("name") or folder.name), kind="trial",
                 started_at=t.get("started_at"), finished_at=t.get("looked_at") or t.get("last_at"),
                 requirements_sha256=None, evalset_sha256=None, modelsel_version=None, chosen=t.get("challenger"),
                 rule=t.get("headline"), fallback=t.get("incumbent"), n_examples=None, price_snapshot=None,
                 holds={"not_worse": True, "worse": False}.get(str(t.get("verdict"))))
    for arm, who in (("incumbent", t.get("incumbent")), ("challenger", t.get("challenger"))):
        if not who:
            continue
        row.candidates[str(who)] = CandidateRow(
            candidate=str(who), status=arm, error_rate=_g(sig, "errors", f"{arm}_mean"),
            cost_per_request_usd=_g(sig, "cost", f"{arm}_mean"), p50_ms=_g(t, "latency_ms", arm, "p50"),
            p95_ms=_g(t, "latency_ms", arm, "p95"))
    return row


class History:
    def __init__(self, reports_root: Path) -> None:
        self.root = reports_root
        path = store_path(reports_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30)
        try:
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate(path)
        except sqlite3.DatabaseError as exc:  # truncated, overwritten or not SQLite: said, never a traceback
            self.db.close()
            raise InputError(f"the history store cannot be read ({exc}). The run folders it indexes are untouched: "
                             "move this file aside and run `modelsel history` again to rebuild it from them.",
                             path=path) from None

    def _migrate(self, path: Path) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA:
            raise InputError(f"this history store has schema {version}, written by a newer modelsel; this one reads up to "
                             f"{SCHEMA} and will not rewrite it. Upgrade modelsel, or point --reports elsewhere.",
                             path=path)
        for i in range(version, SCHEMA):
            with self.db:
                self.db.executescript(MIGRATIONS[i])
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(i + 1),))

    def close(self) -> None:
        self.db.close()

    def add(self, row: RunRow) -> None:
        with self.db:
            self.db.execute("DELETE FROM runs WHERE run_id = ?", (row.run_id,))
            self.db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
                row.run_id, row.folder, row.name, row.kind, row.started_at, row.finished_at, row.requirements_sha256,
                row.evalset_sha256, row.modelsel_version, row.chosen, row.rule, row.fallback, row.n_examples,
                row.price_snapshot, None if row.holds is None else int(row.holds)))
            self.db.executemany("INSERT INTO candidates VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
                (row.run_id, c.candidate, c.status, c.quality, c.quality_lo, c.quality_hi, c.p50_ms, c.p95_ms,
                 c.cost_per_request_usd, c.monthly_usd, c.error_rate, c.price_in, c.price_out, c.total_monthly_usd)
                for c in row.candidates.values()])

    def index_folders(self, warn: Callable[[str], None]) -> int:
        """Add every run folder under the reports folder that the store does not hold yet: the evals and
        reviews (summary.json) and the live trials (`modelsel trial`, trial.json) beside them. A file that
        cannot be read is skipped with a warning naming it, never fatal."""
        known = {r[0] for r in self.db.execute("SELECT folder FROM runs")}
        added = 0
        if not self.root.is_dir():
            return 0
        kinds = (("summary.json", "run", "a modelsel summary", "a run summary", _summary_row),
                 ("trial.json", "signals", "a modelsel trial record", "a trial record", row_from_trial))
        for name, key, kind, what, make in kinds:
            for s in sorted(self.root.glob(f"*/{name}")):
                folder = s.parent.resolve()
                if str(folder) in known:
                    continue
                try:
                    data = json.loads(s.read_text(encoding="utf-8"))
                    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
                        raise ValueError(f"not {kind}")
                    self.add(make(data, folder))
                    added += 1
                except (OSError, ValueError, TypeError, AttributeError) as exc:
                    warn(f"{s}: skipped, it cannot be read as {what} ({type(exc).__name__}: {str(exc)[:120]})")
        return added

    def rows(self, name: str, since: str | None = None) -> list[RunRow]:
        q = "SELECT * FROM runs WHERE name = ?" + (" AND finished_at >= ?" if since else "") + " ORDER BY finished_at"
        cols = [d[0] for d in self.db.execute("SELECT * FROM runs LIMIT 0").description]
        out = []
        for r in self.db.execute(q, (name, since) if since else (name,)):
            d = dict(zip(cols, r, strict=True))
            d["holds"] = None if d["holds"] is None else bool(d["holds"])
            row = RunRow(**d)
            ccols = [x[0] for x in self.db.execute("SELECT * FROM candidates LIMIT 0").description]
            for c in self.db.execute("SELECT * FROM candidates WHERE run_id = ?", (row.run_id,)):
                cd = dict(zip(ccols, c, strict=True))
                cd.pop("run_id")
                row.candidates[cd["candidate"]] = CandidateRow(**cd)
            out.append(row)
        return with_changes(out)

    def names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT name FROM runs ORDER BY name")]


def with_changes(rows: list[RunRow]) -> list[RunRow]:
    """What changed since the previous run of the same requirements: the decision, the requirements
    file, the eval set (then the runs are not one trend), a price."""
    prev: RunRow | None = None
    for r in rows:
        r.changes = []
        if r.kind == "trial":  # a trial is read beside the decisions, not as one: its finding is what it says
            r.changes = [r.rule] if r.rule else []
            continue
        if prev is not None:
            if r.chosen != prev.chosen:
                r.changes.append(f"decision changed: {prev.chosen or 'none'} -> {r.chosen or 'none'}")
            if r.requirements_sha256 and prev.requirements_sha256 and r.requirements_sha256 != prev.requirements_sha256:
                r.changes.append("requirements edited")
            if r.evalset_sha256 != prev.evalset_sha256:
                r.changes.append("eval set edited: not comparable with the run before")
                r.comparable = False
            if r.chosen == prev.chosen and r.fallback != prev.fallback:
                r.changes.append(f"fallback changed: {prev.fallback or 'none'} -> {r.fallback or 'none'}")
            for cid, c in r.candidates.items():
                p = prev.candidates.get(cid)
                if p is not None and (c.price_in, c.price_out) != (p.price_in, p.price_out) and None not in (
                        c.price_in, p.price_in):
                    r.changes.append(f"price of {cid} moved: ${p.price_in:g}/${p.price_out:g} -> "
                                     f"${c.price_in:g}/${c.price_out:g} per Mtok")
                r.changes += _figures_moved(cid, p, c)
        prev = r
    return rows


def _figures_moved(cid: str, p: CandidateRow | None, c: CandidateRow) -> list[str]:
    """A candidate's status and quality against the run before: the figures a decision rests on."""
    if p is None:
        return []
    out = []
    if p.status and c.status and p.status != c.status:
        out.append(f"{cid}: {p.status} -> {c.status}")
    if p.quality is not None and c.quality is not None and round(p.quality, 3) != round(c.quality, 3):
        was = f"{p.quality:.3f}" + (f" [{p.quality_lo:.2f}, {p.quality_hi:.2f}]" if p.quality_lo is not None
                                    and p.quality_hi is not None else "")
        out.append(f"quality of {cid}: {was} -> {c.quality:.3f}")
    return out


def record(reports_root: Path, summary: dict[str, Any], folder: Path, kind: str = "eval", holds: bool | None = None
           ) -> None:
    """Append one run (every `eval` and `review` calls this). The history is a convenience: a
    store that cannot be written is reported by the caller, never the end of a finished run."""
    h = History(reports_root)
    try:
        h.add(row_from_summary(summary, folder.resolve(), kind, holds))
    finally:
        h.close()


def changes_since_last(lr: Any, reports_root: Path) -> list[str]:
    """What changed since the run before this one of the same requirements (from the history store)."""
    try:
        store = History(reports_root)
        try:
            rows = store.rows(lr.req.name or lr.path.stem)
        finally:
            store.close()
    except Exception:  # the history is a convenience here; the record stands without it
        return []
    if len(rows) < 2:
        return ["first recorded decision for these requirements"]
    last, prev = rows[-1], rows[-2]
    return last.changes or [f"the same choice as on {prev.date} ({prev.chosen or 'none'})"]


def indexed_rows(reports_root: Path, name: str, since: str | None, warn: Callable[[str], None]) -> list[Any]:
    """The history rows of one requirements file, after indexing any run folder not yet in the store."""
    store = History(reports_root)
    try:
        store.index_folders(warn)
        return store.rows(name, since)
    finally:
        store.close()


def decision_runs(base: Path, reports_root: Path) -> tuple[Path, list[Path]]:
    """The decision a review is of, and the reviews of it so far (oldest first). `base` may be a review's
    own run folder (the newest run of a requirements file often is): its review.json names the run it
    reviewed, followed back to the decision's own run. Reviews compare with that run, never only the
    newest one, which already holds whatever drifted."""
    def against(folder: Path) -> Path | None:
        f = folder / "review.json"
        try:
            a = json.loads(f.read_text(encoding="utf-8")).get("against") if f.is_file() else None
        except (OSError, json.JSONDecodeError, AttributeError):
            return None
        return Path(a) if isinstance(a, str) and a else None

    seen = set()
    while (prev := against(base)) is not None and base.resolve() not in seen and len(seen) < 100:
        seen.add(base.resolve())
        base = prev
    root = base.resolve()
    reviews = []
    if reports_root.is_dir():
        for sub in reports_root.iterdir():
            a = against(sub) if sub.is_dir() else None
            while a is not None and a.resolve() != root and (b := against(a)) is not None:
                a = b  # a review of a review of the decision is a review of the decision
            if a is not None and a.resolve() == root:
                reviews.append(sub)
    return base, sorted(reviews, key=lambda p: (p / "summary.json").stat().st_mtime if (p / "summary.json").exists() else 0)
