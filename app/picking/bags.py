"""Bag label codes and rider-desk look-ups. Pure: no I/O.

Each bag's label carries its own code, ``D2-004711/2/K7Q2XMPA``: the order number, the
bag number and a tag made from a secret kept with the order and never printed. One
bag's code hands over that bag only: the other bags' codes and the order's handover
code cannot be worked out from it, and a changed bag or order number does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

TAG_LENGTH = 8  # base32: 40 bits, A-Z and 2-7
_TAG = re.compile(rf"[A-Z2-7]{{{TAG_LENGTH}}}")
_NUMBER = re.compile(r"(?:([A-Z0-9]{1,10})-)?0*(\d{1,9})")
MIN_PHONE_DIGITS = 4


def new_bag_key() -> str:
    return secrets.token_hex(16)


def bag_tag(key: str, number: str, bag_no: int) -> str:
    mac = hmac.new(key.encode(), f"{number}/{bag_no}".encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode()[:TAG_LENGTH]


def bag_code(key: str, number: str, bag_no: int) -> str:
    """What bag `bag_no`'s label prints in its QR and under it."""
    return f"{number}/{bag_no}/{bag_tag(key, number, bag_no)}"


@dataclass(frozen=True)
class BagCode:
    number: str
    bag_no: int
    tag: str

    @property
    def store_id(self) -> str:
        return self.number.split("-", 1)[0]


class NotABagCode(ValueError):
    """Text with a '/' that is not shaped like one of our bag labels."""


def parse_bag_code(text: str) -> BagCode:
    parts = text.strip().upper().split("/")
    if len(parts) != 3:
        raise NotABagCode(text)
    number, bag, tag = parts
    if (not 3 <= len(number) <= 20 or "-" not in number or not bag.isascii()
            or not bag.isdigit() or len(bag) > 2 or not _TAG.fullmatch(tag)):
        raise NotABagCode(text)
    return BagCode(number, int(bag), tag)


def verifies(key: str, code: BagCode) -> bool:
    """True when `code` was made from this order's key (an order without one: never)."""
    return bool(key) and hmac.compare_digest(code.tag, bag_tag(key, code.number, code.bag_no))


def order_number(store_id: str, text: str) -> str | None:
    """'D2-4711', 'd2-004711' or '4711' -> 'D2-004711' at store D2; None if not a number
    of this store (another store's prefix, or not a number at all)."""
    match = _NUMBER.fullmatch(text.strip().upper())
    if match is None or (match.group(1) and match.group(1) != store_id):
        return None
    return f"{store_id}-{int(match.group(2)):06d}"


def phone_digits(text: str) -> str | None:
    """The digits to match at the end of customers' phone numbers, or None when the text
    is not a phone number (letters) or too short to mean anything."""
    text = text.strip()
    if not text or re.fullmatch(r"[\d\s+()-]+", text) is None:
        return None
    digits = re.sub(r"\D", "", text)[-10:]  # +91 98765 43210 matches 9876543210
    return digits if len(digits) >= MIN_PHONE_DIGITS else None
