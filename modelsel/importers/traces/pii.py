"""Personal data out of imported traces before anything is written: e-mail addresses, phone
numbers, payment card numbers, IBANs, US social security numbers, IPv4 addresses and secrets become
[EMAIL], [PHONE], [CARD], [IBAN], [SSN], [IP], [SECRET], counted per kind.

Each text is matched as written and as a reader sees it (NFKC: full-width digits, ＠; HTML
entities; percent-encoding; invisible characters out): when the decoded text hides more, the
decoded text, redacted, is what is written. Phone numbers are found by `phonenumbers` (Google's
libphonenumber metadata: a number is one only if it is valid for its country, so order numbers and
dates stay) for international numbers and the --phone-region's national ones; card numbers (with
spaces, dots, dashes or non-breaking spaces between digits), IBANs (any case, spaces or dashes),
and SSNs by shape, then by their own check rules with `python-stdnum` (Luhn; ISO 13616 mod 97;
the SSA's area/group/serial rules), so an id that fails the check is left alone. A model-based
recogniser (Presidio and spaCy) would add hundreds of MB for names and addresses, which this pass
does not claim to find. Secrets are the key shapes vendors document (OpenAI, Anthropic, Google incl.
ya29. OAuth tokens, AWS access and secret keys, GitHub, Slack tokens and webhooks, Stripe, Hugging
Face, JWTs, PEM private keys, bearer tokens) and the values in this run's environment; they are
masked even with --keep-pii."""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from urllib.parse import unquote

from modelsel.redaction import redact as redact_env_secrets

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
SECRET = re.compile("|".join((
    r"\bsk-ant-[A-Za-z0-9_\-]{16,}", r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}", r"\bAIza[0-9A-Za-z_\-]{30,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",
    r"\bxox[abposre]-[A-Za-z0-9-]{10,}", r"\bxapp-[A-Za-z0-9-]{10,}", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b",
    r"\bhf_[A-Za-z0-9]{30,}\b", r"\bya29\.[0-9A-Za-z_\-]{20,}",
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]+",
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    r"(?<=\b[Bb]earer )[A-Za-z0-9._~+/-]{16,}=*")))
# An AWS secret access key: 40 characters of base64's alphabet, mixed case, digits and a / or +.
AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_CARD_SEP = "[ .\u00a0\u2007\u202f-]"
CARD = re.compile(rf"(?<!\d)(?<!\d-)(?:\d{_CARD_SEP}{{0,2}}){{12,18}}\d(?![\d-])")
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,30}")
SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])|(?i:\b(?:ssn|social security(?: number)?)\D{0,20}?)(\d{9})\b")
IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\d|\.\d)")
KINDS = ("secret", "email", "iban", "card", "ssn", "ip", "phone")
DETECTED = ("secrets (API keys and tokens, AWS secret keys, Slack webhooks, JWTs, private keys)", "e-mail addresses",
            "IBANs", "payment card numbers", "US social security numbers", "IPv4 addresses", "phone numbers")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")


def normalised(text: str) -> str:
    """The text as a reader sees it: NFKC (full-width digits and ＠ become ASCII), HTML entities
    (&#64;) and percent-encoding (%40) decoded, invisible characters out."""
    t = unicodedata.normalize("NFKC", text)
    if "&" in t:
        t = html.unescape(t)
    if "%" in t:
        t = unquote(t)
    return _INVISIBLE.sub("", t)


class Redactor:
    """Callable on each text an importer writes; counts what it replaced, per kind. `secrets_only`
    (--keep-pii): personal data stays, secrets never do."""

    def __init__(self, phone_region: str = "US", secrets_only: bool = False) -> None:
        self.region = phone_region.upper()
        self.secrets_only = secrets_only
        self.counts: Counter[str] = Counter()

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        found: Counter[str] = Counter()
        out = self._pass(text, found)
        norm = normalised(text)
        if norm != text:  # what hides behind an encoding is found in the decoded text, which is then written
            found2: Counter[str] = Counter()
            out2 = self._pass(norm, found2)
            if sum(found2.values()) > sum(found.values()):
                out, found = out2, found2
        self.counts.update({k: n for k, n in found.items() if n})
        return out

    def _pass(self, text: str, found: Counter[str]) -> str:
        before = text
        text = redact_env_secrets(text)
        if text != before:
            found["secret"] += text.count("[REDACTED]") - before.count("[REDACTED]")
            text = text.replace("[REDACTED]", "[SECRET]")
        text = _sub(SECRET, "secret", text, found)
        text = _checked(AWS_SECRET, "secret", text, _aws_ok, found)
        if self.secrets_only:
            return text
        if "@" in text:
            text = _sub(EMAIL, "email", text, found)
        if sum(ch.isdigit() for ch in text) >= 7:  # every other kind holds at least seven digits
            text = _ibans(text, found)
            text = _checked(CARD, "card", text, _card_ok, found)
            text = _checked(SSN, "ssn", text, _ssn_ok, found)
            text = _sub(IPV4, "ip", text, found)
            text = self._phones(text, found)
        return text

    def _phones(self, text: str, found: Counter[str]) -> str:
        import phonenumbers

        spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, self.region,
                                                                           leniency=phonenumbers.Leniency.VALID)]
        for s, e in reversed(spans):
            text = text[:s] + "[PHONE]" + text[e:]
        found["phone"] += len(spans)
        return text


def _sub(rx: re.Pattern[str], kind: str, text: str, found: Counter[str]) -> str:
    text, n = rx.subn(f"[{kind.upper()}]", text)
    found[kind] += n
    return text


def _checked(rx: re.Pattern[str], kind: str, text: str, ok: object, found: Counter[str]) -> str:
    def one(m: re.Match[str]) -> str:
        if ok(m):  # type: ignore[operator]
            found[kind] += 1
            return f"[{kind.upper()}]"
        return m.group()
    return rx.sub(one, text)


def _ibans(text: str, found: Counter[str]) -> str:
    """IBANs in any case, grouped by spaces or dashes: the longest run from each candidate start
    that passes ISO 13616's mod-97 check (a run may continue into the next word)."""
    from stdnum import iban

    out, last = [], 0
    for m in IBAN.finditer(text):
        if m.start() < last:
            continue
        run = m.group()
        ends = [i for i in range(len(run), 14, -1) if i == len(run) or run[i] in " -"]
        for e in ends:
            compact = re.sub(r"[ -]", "", run[:e]).upper()
            if 15 <= len(compact) <= 34 and iban.is_valid(compact):
                out += [text[last:m.start()], "[IBAN]"]
                last = m.start() + e
                found["iban"] += 1
                break
    return "".join(out) + text[last:] if out else text


def _card_ok(m: re.Match[str]) -> bool:
    from stdnum import luhn

    digits = re.sub(r"\D", "", m.group())
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn.is_valid(digits)


def _ssn_ok(m: re.Match[str]) -> bool:
    from stdnum.us import ssn

    digits = m.group(5) or (m.group(1) + m.group(3) + m.group(4))
    return ssn.is_valid(digits)


def _aws_ok(m: re.Match[str]) -> bool:
    s = m.group()
    return (any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s)
            and ("/" in s or "+" in s))
