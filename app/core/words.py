"""Plain words for counts: "1 label printed", "2 labels printed", never "1 labels".

Every screen and message that puts a number in front of a noun says it through
`count_of` (templates have it as a global); tests/unit/test_plurals.py looks for
numbers written straight before a plural noun in templates and messages.
"""

from __future__ import annotations


def count_of(n: int, singular: str, plural: str = "") -> str:
    """`count_of(1, "bag")` -> "1 bag"; `count_of(3, "bag")` -> "3 bags"; zero and
    negatives take the plural ("0 bags"). `plural` for the irregular ones ("people")."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
