"""The hub's rule for a join of a number it erased (issue #21, docs/loyalty.md
"Privacy"): core.loyalty.rejoin_allowed, and that the store's balance rule agrees with
it for a customer not known at the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.core.loyalty import balance_allowed, rejoin_allowed

ERASED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
offsets = st.integers(-10**7, 10**7).map(lambda s: ERASED + timedelta(seconds=s))


@given(consent=offsets)
def test_only_a_consent_given_after_the_erasure_brings_a_number_back(consent):
    assert rejoin_allowed(ERASED, consent) == (consent > ERASED)
    assert not rejoin_allowed(ERASED, ERASED)  # the same instant is not after
    assert not rejoin_allowed(ERASED, ERASED - timedelta(microseconds=1))


@given(consent=offsets)
def test_a_number_never_erased_may_always_join(consent):
    assert rejoin_allowed(None, consent)


@given(consent=offsets, later=st.integers(1, 10**7))
def test_the_store_and_the_hub_agree_on_who_may_come_back(consent, later):
    booked = ERASED + timedelta(seconds=later)  # a balance booked after the erasure
    assert balance_allowed(ERASED, booked_at=booked, consent_at=consent,
                           known_here=False) == rejoin_allowed(ERASED, consent)


@given(consent=offsets, shift=st.integers(-12 * 3600, 14 * 3600))
def test_the_offset_a_time_is_written_in_does_not_matter(consent, shift):
    from datetime import timezone

    zone = timezone(timedelta(seconds=shift - shift % 60))
    assert rejoin_allowed(ERASED.astimezone(zone), consent) == rejoin_allowed(
        ERASED, consent.astimezone(zone))
