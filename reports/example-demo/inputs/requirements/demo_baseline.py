"""The keyword rules a support team already has: the baseline any model must beat."""

RULES = [
    ("billing", ("charge", "charged", "invoice", "refund", "billed", "payment", "card", "vat", "discount", "rechnung", "price")),
    ("shipping", ("package", "parcel", "deliver", "delivered", "delivery", "shipping", "ship", "tracking", "courier", "order", "pedido", "customs")),
    ("account", ("password", "login", "log in", "logn", "email address", "profile", "account", "two-factor", "2fa", "ownership")),
    ("technical", ("crash", "error", "bug", "load", "freez", "sync", "export", "api", "broken", "not working", "notification", "update")),
]


def classify(text: str) -> str:
    low = text.lower()
    for label, words in RULES:
        if any(w in low for w in words):
            return label
    return "other"
