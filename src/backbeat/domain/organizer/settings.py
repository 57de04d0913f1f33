"""A user's organizer settings: on or off, which playlists to keep, and how to name them.

They live on the user's `organizer_scan_states` row (a user without one has the defaults).
Playlists the organizer already made keep their names when the pattern changes: the pattern
names new playlists only. Turning a kind of playlist on rewinds the scan cursor, so the next
scan sorts the whole library into the new playlists (adds are recorded: nothing twice).
"""

from __future__ import annotations

from string import Formatter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from backbeat.db.engine import Database
from backbeat.db.models import DEFAULT_NAME_PATTERN, OrganizerScanState, User
from backbeat.errors import InvalidRequest, NotFound

GroupKind = Literal["language", "genre"]
PLACEHOLDERS = ("name", "kind", "key")  # "Spanish" / "Language" / "es"
MAX_NAME = 100  # characters of a playlist name Spotify shows in full
KIND_LABELS: dict[str, str] = {"language": "Language", "genre": "Genre"}


def _check_pattern(pattern: str) -> str:
    """Only `{name}`, `{kind}` and `{key}`, bare: no attributes, indexes, conversions or format
    specs, so a pattern can never reach into an object or blow up a name's length."""
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in Formatter().parse(pattern)
            if name is not None
        ]
    except ValueError as error:  # an unmatched brace
        raise ValueError(f"not a name pattern: {error}") from None
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {{name}}, {{kind}} or {{key}}")
        if spec or conversion:
            raise ValueError(f"placeholders take no format spec or conversion: {{{name}...}}")
    if not {"name", "key"} & {name for name, _, _ in fields}:
        # Without one of them every playlist of a kind would get the same name.
        raise ValueError("the pattern needs {name} or {key}")
    return pattern


class OrganizerSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    by_language: bool = True
    by_genre: bool = True
    name_pattern: str = Field(default=DEFAULT_NAME_PATTERN, min_length=1, max_length=MAX_NAME)

    @field_validator("name_pattern")
    @classmethod
    def _valid_pattern(cls, pattern: str) -> str:
        return _check_pattern(pattern)

    def kinds(self) -> tuple[GroupKind, ...]:
        """The kinds of playlist to keep."""
        chosen: list[GroupKind] = []
        if self.by_language:
            chosen.append("language")
        if self.by_genre:
            chosen.append("genre")
        return tuple(chosen)

    def playlist_name(self, kind: GroupKind, key: str, name: str) -> str:
        """The pattern filled in, cut to what Spotify shows."""
        text = self.name_pattern.format(name=name, kind=KIND_LABELS[kind], key=key).strip()
        return text[:MAX_NAME] or key


def parse_settings(data: object) -> OrganizerSettings:
    """Settings from a request body; `InvalidRequest` naming the first field that is wrong."""
    try:
        return OrganizerSettings.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        raise InvalidRequest(field, first["msg"]) from None


def settings_of(state: OrganizerScanState | None) -> OrganizerSettings:
    if state is None:
        return OrganizerSettings()
    return OrganizerSettings(
        enabled=state.enabled,
        by_language=state.by_language,
        by_genre=state.by_genre,
        name_pattern=state.name_pattern,
    )


async def get_settings(database: Database, user_id: str) -> OrganizerSettings:
    async with database.sessions() as session:
        if await session.get(User, user_id) is None:
            raise NotFound("user", user_id)
        return settings_of(await session.get(OrganizerScanState, user_id))


async def put_settings(
    database: Database, user_id: str, settings: OrganizerSettings
) -> OrganizerSettings:
    async with database.sessions() as session, session.begin():
        if await session.get(User, user_id) is None:
            raise NotFound("user", user_id)
        state = await session.get(OrganizerScanState, user_id, with_for_update=True)
        before = settings_of(state)
        if state is None:
            state = OrganizerScanState(user_id=user_id)
            session.add(state)
        elif set(settings.kinds()) - set(before.kinds()):
            state.cursor_added_at = None  # sort the whole library into the new playlists
        state.enabled = settings.enabled
        state.by_language = settings.by_language
        state.by_genre = settings.by_genre
        state.name_pattern = settings.name_pattern
    return settings


async def enabled_user_ids(database: Database) -> list[str]:
    """Users the daily fan-out should organize: organizer on (or never set) and logged in."""
    query = (
        select(User.id)
        .outerjoin(OrganizerScanState, OrganizerScanState.user_id == User.id)
        .where(User.needs_relogin.is_(False))
        .where((OrganizerScanState.enabled.is_(True)) | (OrganizerScanState.user_id.is_(None)))
        .order_by(User.id)
    )
    async with database.sessions() as session:
        return list(await session.scalars(query))
