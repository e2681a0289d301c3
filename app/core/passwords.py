"""Password rules for the hub's sign-in (OWASP ASVS 4.0.3 V2.1), and PIN rules' partner.

- At least 12 characters (2.1.1), up to 128 (2.1.2); any characters, spaces and emoji
  included, never truncated or changed (2.1.3, 2.1.4); no rules about character kinds
  (2.1.9): length is what makes a password strong.
- Not one of the common passwords shipped in common_passwords.txt (2.1.7; 9,051 entries,
  its source and licence in common_passwords.LICENSE.txt), nor one of them with digits or
  symbols around it ("password2024!"), nor a repeated or sequential string, nor one
  containing the user's name or "kirana".
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from app.core.i18n import _

MIN_LENGTH = 12
MAX_LENGTH = 128
_LIST = Path(__file__).with_name("common_passwords.txt")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class PasswordPolicyError(ValueError):
    pass


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(
        line.strip().lower() for line in _LIST.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


def _is_repeat(text: str) -> bool:
    """"abcabc", "aaaa": the whole is a shorter string repeated."""
    return len(text) > 1 and text in (text + text)[1:-1]


def _is_run(text: str) -> bool:
    """"abcdef…", "987654…": every step the same +1 or -1."""
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return len(text) > 2 and len(steps) == 1 and steps <= {1, -1}


def check_password_policy(password: str, username: str = "") -> None:
    """Raise PasswordPolicyError with a plain reason, or return for a good password."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(_(
            "Use at least %(least)s characters; a few unrelated words are easy to "
            "remember and hard to guess.") % {"least": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(_("Use at most %(most)s characters.") % {"most": MAX_LENGTH})
    lowered = password.lower()
    squeezed = re.sub(r"\s+", "", lowered)
    base = _EDGES.sub("", squeezed)
    listed = common_passwords()
    if lowered in listed or squeezed in listed or base in listed:
        raise PasswordPolicyError(_("That password is on the list of common passwords; "
                                    "choose another."))
    if _is_repeat(squeezed) or _is_run(squeezed) or len(set(squeezed)) < 4:
        raise PasswordPolicyError(_("That password repeats itself or runs in order; "
                                    "choose another."))
    name = username.strip().lower()
    if (len(name) >= 3 and name in squeezed) or "kirana" in squeezed:
        raise PasswordPolicyError(_("The password must not contain your name or 'kirana'."))
