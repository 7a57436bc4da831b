"""The README's summary.json section and limits table say what the code does."""

from __future__ import annotations

import re

from pydantic import BaseModel

from modelsel import schema
from modelsel.analysis.limits import table_markdown
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _fields(model: type[BaseModel], seen: set[type], modules: tuple[object, ...] = (schema,)) -> set[str]:
    """Every field name of a model and of the models nested in it (found in `modules`), as a file
    spells it (`schema`, not the attribute `schema_`)."""
    out: set[str] = set()
    if model in seen:
        return out
    seen.add(model)
    for name, f in model.model_fields.items():
        out.add(f.alias or name)
        for t in re.findall(r"[A-Za-z_]\w*", repr(f.annotation)):
            nested = next((getattr(m, t) for m in modules if hasattr(m, t)), None)
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                out |= _fields(nested, seen, modules)
    return out


def test_every_summary_field_is_in_the_readme_schema_section() -> None:
    block = README.split("### summary.json (schema_version 2)")[1].split("## How modelsel decides")[0]
    words = set(re.findall(r"[A-Za-z_]\w*", block))
    missing = sorted(_fields(schema.Summary, set()) - words)
    assert not missing, f"summary fields the README does not name: {missing}"


def test_the_readme_limits_table_is_the_code_s() -> None:
    assert table_markdown() in README


def test_the_readme_scorer_table_names_every_scorer_and_no_other() -> None:
    from modelsel.inputs.scorers import TYPES

    table = README.split("## Scorers")[1].split("Several scorers combine")[0]
    named = set(re.findall(r"^\| `(\w+)`(?: / `(\w+)`)?(?: / `(\w+)`)?", table, re.M))
    names = {n for row in named for n in row if n}
    assert names == set(TYPES), f"README names {sorted(names ^ set(TYPES))} differently from the code"


def test_every_requirements_field_is_in_the_readme() -> None:
    """Adding a requirement means saying what it is where a PM reads the file's format."""
    from modelsel.inputs import production, requirements, scorers

    block = README.split("## The requirements file")[1].split("## Run folder")[0]  # with the eval set and scorers
    words = set(re.findall(r"[A-Za-z_]\w*", block))
    missing = sorted(_fields(requirements.Requirements, set(), (requirements, production, scorers)) - words)
    assert not missing, f"requirements fields the README does not name: {missing}"
