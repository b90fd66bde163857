"""Keeping personal data out of logs and responses: masks and keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from pathlib import Path


def mask_card(card_no: str) -> str:
    """``****1234``: enough for an operator to tell cards apart, not to use one."""
    return "****" + card_no[-4:] if len(card_no) > 4 else "****"


def mask_national_id(last4: str) -> str:
    return "**************" + last4


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SHA256 hex: the same value always matches, but cannot be read back."""
    normalized = value.strip().upper()
    return hmac.new(secret.encode(), normalized.encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """SHA-256 of a long random token (API key, session cookie): fast is safe here."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def secret_key(configured: str | None, data_dir: Path) -> str:
    """The configured key, or one generated once and kept (mode 0600) in the data dir."""
    if configured:
        return configured
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key)
    tmp.chmod(0o600)
    tmp.rename(path)
    return key


# Addresses that carry a card number: /api/card-holders/{card_no}..., /api/cards/{card_no}...
# and any query parameter named card_no (e.g. /api/cases?card_no=...).
_CARD_IN_PATH = re.compile(r"(/api/card(?:-holder)?s/)([^/?#\s]+)")
_CARD_IN_QUERY = re.compile(r"([?&]card_no=)([^&#\s]*)", re.IGNORECASE)
# Whatever the spelling (percent-encoded names or slashes): no run of 8 or more digits,
# the shape of a card or ID number, is written out. Row ids stay shorter than that.
_LONG_NUMBER = re.compile(r"\d{4,}(\d{4})")


def mask_card_paths(text: str) -> str:
    """A request address with any card number in it masked."""
    text = _CARD_IN_PATH.sub(lambda m: m.group(1) + mask_card(m.group(2)), text)
    text = _CARD_IN_QUERY.sub(lambda m: m.group(1) + mask_card(m.group(2)), text)
    return _LONG_NUMBER.sub(lambda m: "****" + m.group(1), text)


class MaskCardPaths(logging.Filter):
    """Masks card numbers in the addresses an access log writes (its args are strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_card_paths(a) if isinstance(a, str) else a for a in record.args
            )
        return True
