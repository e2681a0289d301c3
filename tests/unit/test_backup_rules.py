"""The backup names and the retention policy (app/ops/backup_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ops.backup_rules import PARTIAL, backup_name, parse_name, stale_partials, to_delete

T0 = datetime(2026, 1, 1, tzinfo=UTC)
moments = st.lists(st.integers(0, 400 * 24 * 60).map(lambda m: T0 + timedelta(minutes=m)),
                   max_size=60, unique=True)


def test_a_name_says_the_store_and_the_utc_moment():
    ist = timezone(timedelta(hours=5, minutes=30))
    name = backup_name("S1", datetime(2026, 12, 2, 0, 15, tzinfo=ist))
    assert name == "kirana-S1-20261201T184500Z.db"
    parsed = parse_name(name)
    assert parsed is not None and parsed.store == "S1"
    assert parsed.at == datetime(2026, 12, 1, 18, 45, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["S 1", "../S1", "", "x" * 33, "S1\x00", "S/1"])
def test_a_store_id_that_cannot_name_a_file_is_refused(bad):
    with pytest.raises(ValueError):
        backup_name(bad, T0)


def test_a_time_without_its_zone_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        backup_name("S1", datetime(2026, 1, 1))


@pytest.mark.parametrize("other", [
    "kirana-S1-20261301T000000Z.db",  # month 13
    "kirana-S1-20261201T000000Z.db" + PARTIAL, "kirana-S1-20261201T000000Z.db-wal",
    "notes.txt", "kirana-S1-20261201T000000.db", "", "kirana-S1-2026120T000000Z.db"])
def test_other_files_are_not_backups(other):
    assert parse_name(other) is None


@given(moments, st.integers(1, 10), st.integers(0, 20))
def test_retention_keeps_the_newest_and_one_a_day_and_touches_nothing_else(ats, keep_last,
                                                                         keep_daily):
    mine = [backup_name("S1", at) for at in ats]
    others = [backup_name("S2", at) for at in ats[:3]] + ["notes.txt",
                                                          (mine[0] + PARTIAL) if mine else "x"]
    gone = to_delete(mine + others, "S1", keep_last, keep_daily)
    assert set(gone) <= set(mine)  # never another store's file, a partial or a stranger
    kept = sorted(set(mine) - set(gone), reverse=True)
    newest_first = sorted(mine, reverse=True)
    if mine:
        assert newest_first[0] in kept  # the newest always stays
    assert set(newest_first[:keep_last]) <= set(kept)
    if mine and keep_daily:
        newest_day = max(ats).date()
        for back in range(keep_daily):
            day = newest_day - timedelta(days=back)
            that_day = [n for n, at in zip(mine, ats, strict=True) if at.date() == day]
            if that_day:
                assert max(that_day) in kept
    # nothing is kept that neither rule asked for, and a second pass drops nothing more
    assert len(kept) <= keep_last + keep_daily
    assert to_delete(kept + others, "S1", keep_last, keep_daily) == []
    assert gone == sorted(gone)  # oldest first


@pytest.mark.parametrize(("last", "daily"), [(0, 3), (-1, 0), (3, -1)])
def test_a_policy_that_would_keep_nothing_is_refused(last, daily):
    with pytest.raises(ValueError):
        to_delete([backup_name("S1", T0)], "S1", last, daily)


def test_stale_partials_are_only_this_stores_copies():
    names = [backup_name("S1", T0) + PARTIAL, backup_name("S2", T0) + PARTIAL,
             backup_name("S1", T0), "x.partial"]
    assert stale_partials(names, "S1") == [backup_name("S1", T0) + PARTIAL]
