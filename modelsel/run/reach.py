"""Candidates whose endpoint never answered: none of their calls got an HTTP answer (every attempt
failed to connect). That is not a model doing badly: it is a model that was not evaluated, like one
without a key, and the record says where it could not connect and how to check it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelsel.run.calls import CallArrays


def url_of(c: Any, provider: Any) -> str:
    """Where the candidate's calls go: its base_url, else its API's own host."""
    if c.base_url:
        return str(c.base_url)
    host = getattr(type(provider), "default_host", None)
    return f"https://{host}" if host and host != "this machine" else str(c.provider)


def unreachable(arr: CallArrays, runnable: list[Any], providers: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Per candidate reached over the network whose every call (and every retry of it) failed to
    connect: (why it is not evaluated, for the record; how to check the address, for the terminal)."""
    out: dict[str, tuple[str, str]] = {}
    for c in runnable:
        p = providers.get(c.id)
        if p is None or not getattr(p, "over_http", False):
            continue
        mine = arr.of(c.id)
        if not len(mine) or not bool(mine.error.all()):
            continue
        kinds = set(mine.error_kind.tolist()) | {k for ks in mine.retry_kinds.tolist() for k in ks.split(",") if k}
        if kinds != {"connection"}:
            continue
        url = url_of(c, p)
        first = str(mine.error_msg[0])[:160]
        out[c.id] = (f"could not connect to {url}: none of its {len(mine)} calls got an HTTP answer ({first}); "
                     "check that the server runs at that address",
                     f"`curl -sS -o /dev/null -w '%{{http_code}}\\n' {url}` prints an HTTP status when the server can be "
                     "reached (is it running, are the host and port right, is a proxy or firewall in the way?)")
    return out
