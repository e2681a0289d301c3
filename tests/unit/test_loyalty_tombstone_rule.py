"""The store's rule for a hub balance of an erased number (issue #21, docs/loyalty.md
"Privacy"): core.loyalty.balance_allowed and the tombstone's keyed hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.core.loyalty import balance_allowed, tombstone_key

ERASED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
offsets = st.integers(-10**7, 10**7).map(lambda s: ERASED + timedelta(seconds=s))


@given(booked=st.none() | offsets, consent=offsets, known=st.booleans())
def test_nothing_booked_before_the_erasure_is_ever_applied(booked, consent, known):
    allowed = balance_allowed(ERASED, booked_at=booked, consent_at=consent, known_here=known)
    if booked is None or booked <= ERASED:
        assert not allowed
    elif not known:  # not here: only a consent given after the erasure
        assert allowed == (consent > ERASED)
    else:  # joined again here since: the hub's later balances apply
        assert allowed


@given(booked=st.none() | offsets, consent=offsets, known=st.booleans())
def test_a_number_never_erased_takes_every_balance(booked, consent, known):
    assert balance_allowed(None, booked_at=booked, consent_at=consent, known_here=known)


@given(digits=st.text("0123456789", min_size=9, max_size=9), first=st.sampled_from("6789"))
def test_the_key_is_keyed_and_never_the_number(digits, first):
    phone = first + digits
    key = tombstone_key(b"k" * 32, phone)
    assert len(key) == 64 and phone not in key
    assert key == tombstone_key(b"k" * 32, f"+91 {phone[:5]} {phone[5:]}")
    assert key != tombstone_key(b"j" * 32, phone)
