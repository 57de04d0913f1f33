"""The scan-state row's transitions: running → idle (cursor moved) or running → failed (cursor
kept). Each is its own short transaction, so a failed scan still leaves its error behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backbeat.db.engine import Database
from backbeat.db.models import OrganizerScanState

MAX_ERROR = 2000  # characters of an error message kept


@dataclass(frozen=True, slots=True)
class Finished:
    """What a successful scan writes: the new cursor and this run's counts."""

    started_from: datetime | None  # the cursor `begin` gave the scan
    cursor: datetime | None
    scanned: int
    sorted: int
    mode_note: str | None


async def begin(database: Database, user_id: str, now: datetime) -> datetime | None:
    """Mark the scan running; the cursor it starts from."""
    async with database.sessions() as session, session.begin():
        state = await session.get(OrganizerScanState, user_id, with_for_update=True)
        if state is None:
            state = OrganizerScanState(user_id=user_id, cursor_added_at=None)
            session.add(state)
        state.status = "running"
        state.last_started_at = now
        state.updated_at = now
        return state.cursor_added_at


async def succeed(database: Database, user_id: str, now: datetime, done: Finished) -> None:
    async with database.sessions() as session, session.begin():
        state = await session.get(OrganizerScanState, user_id, with_for_update=True)
        if state is None:  # the user was deleted while their scan ran
            return
        old = state.cursor_added_at
        # Moved only from where this scan started: a settings change that rewound the cursor
        # meanwhile wins, and the next scan redoes the library. Never backwards either.
        if (
            old == done.started_from
            and done.cursor is not None
            and (old is None or done.cursor > old)
        ):
            state.cursor_added_at = done.cursor
        state.status = "idle"
        state.scanned_total += done.scanned
        state.sorted_total += done.sorted
        state.last_scan_count = done.scanned
        state.consecutive_failures = 0
        state.last_error = None
        state.mode_note = done.mode_note
        state.last_finished_at = state.last_succeeded_at = state.updated_at = now


async def fail(database: Database, user_id: str, now: datetime, error: BaseException) -> None:
    """Record the failure; the cursor stays where the last completed scan left it."""
    async with database.sessions() as session, session.begin():
        state = await session.get(OrganizerScanState, user_id, with_for_update=True)
        if state is None:
            return
        state.status = "failed"
        state.consecutive_failures += 1
        state.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR]
        state.last_finished_at = state.updated_at = now
