"""Personal data out of imported traces before anything is written: e-mail addresses, phone
numbers, payment card numbers, IBANs and secrets become [EMAIL], [PHONE], [CARD], [IBAN], [SECRET],
counted per kind.

Phone numbers are found by `phonenumbers` (Google's libphonenumber metadata: a number is one
only if it is valid for its country, so order numbers and dates stay) for international numbers
and the --phone-region's national ones; card numbers and IBANs by shape, then by their own check
digits with `python-stdnum` (Luhn; ISO 13616 mod 97), so a 16-digit id that fails the check is
left alone. Both are pure-Python, small and kept current; a model-based recogniser (Presidio and
spaCy) would add hundreds of MB for names and addresses, which this pass does not claim to find.
Secrets are the key shapes vendors document (OpenAI, Anthropic, Google, AWS, GitHub, Slack,
Stripe, JWTs, PEM private keys, bearer tokens) and the values in this run's environment."""

from __future__ import annotations

import re
from collections import Counter

from modelsel.redaction import redact as redact_env_secrets

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
SECRET = re.compile("|".join((
    r"\bsk-ant-[A-Za-z0-9_\-]{16,}", r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}", r"\bAIza[0-9A-Za-z_\-]{30,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    r"(?<=\b[Bb]earer )[A-Za-z0-9._~+/-]{16,}=*")))
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
KINDS = ("secret", "email", "iban", "card", "phone")


class Redactor:
    def __init__(self, phone_region: str = "US") -> None:
        self.region = phone_region.upper()
        self.counts: Counter[str] = Counter()

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        before = text
        text = redact_env_secrets(text)
        if text != before:
            self.counts["secret"] += text.count("[REDACTED]") - before.count("[REDACTED]")
            text = text.replace("[REDACTED]", "[SECRET]")
        text = self._sub(SECRET, "secret", text)
        if "@" in text:
            text = self._sub(EMAIL, "email", text)
        if sum(ch.isdigit() for ch in text) >= 7:  # every other kind holds at least seven digits
            text = self._checked(IBAN, "iban", text, _iban_ok)
            text = self._checked(CARD, "card", text, _card_ok)
            text = self._phones(text)
        return text

    def _sub(self, rx: re.Pattern[str], kind: str, text: str) -> str:
        text, n = rx.subn(f"[{kind.upper()}]", text)
        self.counts[kind] += n
        return text

    def _checked(self, rx: re.Pattern[str], kind: str, text: str, ok: object) -> str:
        def one(m: re.Match[str]) -> str:
            if ok(m.group()):  # type: ignore[operator]
                self.counts[kind] += 1
                return f"[{kind.upper()}]"
            return m.group()
        return rx.sub(one, text)

    def _phones(self, text: str) -> str:
        import phonenumbers

        spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, self.region,
                                                                           leniency=phonenumbers.Leniency.VALID)]
        for s, e in reversed(spans):
            text = text[:s] + "[PHONE]" + text[e:]
        self.counts["phone"] += len(spans)
        return text


def _card_ok(s: str) -> bool:
    from stdnum import luhn

    digits = re.sub(r"\D", "", s)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn.is_valid(digits)


def _iban_ok(s: str) -> bool:
    from stdnum import iban

    return iban.is_valid(s)
