"""Backup names and the retention policy (issue #23). Pure: no files are touched here.

A backup is one SQLite file named by the moment it was taken, in UTC, so names sort in
time order and a folder listing is the catalogue: `kirana-S1-20261201T183005Z.db`. A
copy still being written has `.partial` after it and never counts as a backup (a
`kirana backup` killed half-way leaves one; the next run removes it).

Retention keeps the newest `keep_last` backups and, older than those, the newest backup
of each of the last `keep_daily` days (UTC days, counted back from the newest backup,
not from the clock: a store whose backups stopped for a week keeps its last good ones).
Nothing else is kept. The newest backup is always kept, whatever the settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PARTIAL = ".partial"
_NAME = re.compile(r"^kirana-(?P<store>[A-Za-z0-9_-]{1,32})-(?P<at>\d{8}T\d{6}Z)\.db$")
_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True, order=True)
class BackupName:
    at: datetime
    store: str
    name: str


def backup_name(store_id: str, at: datetime) -> str:
    """The file name of a backup of `store_id` taken at `at` (an aware datetime)."""
    if at.tzinfo is None:
        raise ValueError("backup time must carry its timezone")
    name = f"kirana-{store_id}-{at.astimezone(UTC).strftime(_STAMP)}.db"
    if not _NAME.match(name):
        raise ValueError(f"store id {store_id!r} cannot name a backup file")
    return name


def parse_name(name: str) -> BackupName | None:
    """The backup a file name stands for, or None for any other file (a `.partial`
    copy, a file someone put there)."""
    found = _NAME.match(name)
    if not found:
        return None
    try:
        at = datetime.strptime(found.group("at"), _STAMP).replace(tzinfo=UTC)
    except ValueError:  # 20261399T..: looks like a stamp, is not a moment
        return None
    return BackupName(at=at, store=found.group("store"), name=name)


def to_delete(names: Iterable[str], store_id: str, keep_last: int,
              keep_daily: int) -> list[str]:
    """Which of this store's backups the policy drops, oldest first. Files that are not
    this store's backups are never named (another store's backups in a shared folder,
    partial copies, anything else)."""
    if keep_last < 1 or keep_daily < 0:
        raise ValueError("keep_last must be at least 1 and keep_daily at least 0")
    mine = sorted((b for n in names if (b := parse_name(n)) and b.store == store_id),
                  reverse=True)
    if not mine:
        return []
    kept = {b.name for b in mine[:keep_last]}
    newest_day = mine[0].at.date()
    first_day = newest_day - timedelta(days=keep_daily - 1) if keep_daily else None
    seen_days: set[date] = set()
    for b in mine:  # newest first: the first one met on a day is that day's newest
        day = b.at.date()
        if first_day is not None and day >= first_day and day not in seen_days:
            seen_days.add(day)
            kept.add(b.name)
    return [b.name for b in reversed(mine) if b.name not in kept]


def stale_partials(names: Iterable[str], store_id: str) -> list[str]:
    """Copies left half-written by a backup that died (kill -9, power cut)."""
    return sorted(n for n in names
                  if n.endswith(PARTIAL) and (b := parse_name(n[:-len(PARTIAL)]))
                  and b.store == store_id)
