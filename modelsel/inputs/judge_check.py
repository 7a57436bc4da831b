"""The judge check set (`judge_check:` in the requirements): answers a person has already marked
pass or fail, one JSON object a line. The run has the judge grade each of them, so the judge's own
error (how often it passes what a person fails, and fails what a person passes) is measured, per
candidate where rows name one, and carried into the quality intervals (analysis/judge_error.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelsel.errors import InputError
from modelsel.inputs.textfile import (
    MAX_EVALSET_BYTES,
    jsonl_objects,
    printable,
    read_text,
)

FIELDS = ("input", "answer", "verdict", "candidate", "expected", "id")
VERDICTS = {"pass": True, "fail": False}


@dataclass
class CheckRow:
    """One answer with a person's verdict; `judged` is filled when the run's judge has graded it
    (True: the judge passed it; None: not graded, e.g. the budget guard stopped the judge)."""

    line: int
    input: str
    answer: str
    truth: bool
    candidate: str | None = None
    expected: str | None = None
    id: str | None = None
    judged: bool | None = None
    judge_reason: str = ""


def _bad(msg: str, path: Path, line: int, field: str | None = None) -> InputError:
    return InputError(msg, path=path, line=line, field=field)


def _row(obj: Any, path: Path, n: int, candidates: set[str]) -> CheckRow:
    if not isinstance(obj, dict):
        raise _bad("each line is an object: {\"input\": ..., \"answer\": ..., \"verdict\": \"pass\" or \"fail\"} "
                   "(optional \"candidate\", \"expected\", \"id\").", path, n)
    extra = sorted(set(obj) - set(FIELDS))
    if extra:
        raise _bad(f"unknown field '{printable(extra[0])}' (known: {', '.join(FIELDS)}).", path, n, extra[0])
    for f in ("input", "answer"):
        if not isinstance(obj.get(f), str) or not obj[f].strip():
            raise _bad(f"'{f}' must be non-empty text.", path, n, f)
    v = obj.get("verdict")
    if not isinstance(v, str) or v.strip().lower() not in VERDICTS:
        raise _bad(f"'verdict' is a person's verdict on the answer: \"pass\" or \"fail\", not {printable(repr(v))[:40]}.",
                   path, n, "verdict")
    cand = obj.get("candidate")
    if cand is not None and (not isinstance(cand, str) or cand not in candidates):
        raise _bad(f"'candidate' {printable(repr(cand))[:60]} is not one of the requirements' candidates "
                   f"({', '.join(sorted(candidates)) or 'none'}); leave it out for an answer from any model.",
                   path, n, "candidate")
    for f in ("expected", "id"):
        if obj.get(f) is not None and not isinstance(obj[f], str | int | float):
            raise _bad(f"'{f}' must be text.", path, n, f)
    return CheckRow(line=n, input=obj["input"], answer=obj["answer"], truth=VERDICTS[v.strip().lower()], candidate=cand,
                    expected=None if obj.get("expected") is None else str(obj["expected"]),
                    id=None if obj.get("id") is None else str(obj["id"]))


def load_judge_check(path: Path, candidates: set[str]) -> list[CheckRow]:
    """The rows of a judge check file (JSONL); bad input names the file, line and field."""
    if not path.is_file():
        raise InputError("judge check file not found.", path=path)
    rows: list[CheckRow] = []
    for n, obj in jsonl_objects(path, read_text(path, MAX_EVALSET_BYTES, "judge check file")):
        rows.append(_row(obj, path, n, candidates))
    if not rows:
        raise InputError("the judge check file has no rows: give answers a person marked pass or fail.", path=path, line=1)
    return rows
