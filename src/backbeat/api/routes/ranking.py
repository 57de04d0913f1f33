"""The song ranker: sessions of an artist's, albums' or a playlist's songs, pairwise duels,
the Bradley–Terry ranking, "rank all" imports, and per-artist leaderboards. A session is its
owner's alone: anyone else is told it does not exist."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, model_validator

from backbeat.api.auth import Caller, ServicesDep, limited
from backbeat.api.deps import JobRuntimeDep
from backbeat.api.routes.listening import Accepted
from backbeat.api.views.ranking import Duel, Pair, Session, SessionItem
from backbeat.domain.accounts import CurrentSession
from backbeat.domain.ranking import RankingService
from backbeat.errors import InvalidRequest, NotFound
from backbeat.jobs.runtime import JobRuntime
from backbeat.jobs.tasks.ranking import IMPORT, LEADERBOARD, RANK, RANK_EVERY
from backbeat.ratelimit import Priority

router = APIRouter(prefix="/api/ranking", tags=["ranking"])

# Spotify ids are 22 base-62 characters: anything else is refused before it costs a call.
SpotifyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{22}$")]
# A new session or an import walks a whole artist upstream: limited per user.
RankingCaller = Annotated[CurrentSession, limited("ranking")]


class NewSession(BaseModel):
    """Exactly one source: an artist (all their songs), albums, or a playlist."""

    artist_id: SpotifyId | None = None
    album_ids: list[SpotifyId] | None = Field(default=None, min_length=1, max_length=20)
    playlist_id: SpotifyId | None = None
    name: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def one_source(self) -> NewSession:
        given = [self.artist_id, self.album_ids, self.playlist_id]
        if sum(source is not None for source in given) != 1:
            raise ValueError("give exactly one of artist_id, album_ids, playlist_id")
        return self


@router.post("/sessions", status_code=201)
async def create_session(request: NewSession, caller: RankingCaller, found: ServicesDep) -> Session:
    """A session over the source's songs, one release per recording."""
    spotify = found.upstreams.spotify
    name = request.name
    if request.artist_id is not None:
        artist = await spotify.artist(request.artist_id, priority=Priority.HIGH)
        song_ids = [
            song
            async for album in found.songs.walk_artist(artist.id, priority=Priority.HIGH)
            for song in album.song_ids
        ]
        name = name or artist.name
    elif request.album_ids is not None:
        song_ids = await found.songs.from_albums(request.album_ids, priority=Priority.HIGH)
        name = name or "Albums"
    else:
        assert request.playlist_id is not None
        user = found.upstreams.user(caller.user_id, Priority.HIGH)
        song_ids = await found.songs.from_playlist(user, request.playlist_id)
        name = name or "Playlist"
    session_id = await found.ranking.create_session(
        caller.user_id, name, song_ids, request.artist_id
    )
    return Session.of(await found.ranking.get(caller.user_id, session_id))


@router.get("/sessions")
async def list_sessions(caller: Caller, found: ServicesDep) -> list[SessionItem]:
    return [SessionItem.of(item) for item in await found.ranking.list_sessions(caller.user_id)]


@router.get("/sessions/{session_id}")
async def get_session(session_id: str, caller: Caller, found: ServicesDep) -> Session:
    """Songs, the ranking (best first), duels, convergence and progress."""
    return Session.of(await found.ranking.get(caller.user_id, session_id))


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, caller: Caller, found: ServicesDep) -> Response:
    await found.ranking.delete_session(caller.user_id, session_id)
    return Response(status_code=204)


@router.get("/sessions/{session_id}/next")
async def next_pair(session_id: str, caller: Caller, found: ServicesDep) -> Pair:
    """The most informative duel to play next."""
    pair = await found.ranking.next_pair(caller.user_id, session_id)
    if pair is None:
        raise InvalidRequest("session", "needs at least two songs to duel")
    return Pair.of(*pair)


class DuelRequest(BaseModel):
    a: int
    b: int
    outcome: Literal["a", "b", "tie", "skip"]


@router.post("/sessions/{session_id}/duels", status_code=201)
async def duel(
    session_id: str, request: DuelRequest, caller: Caller, found: ServicesDep, jobs: JobRuntimeDep
) -> Duel:
    """Record a duel: a or b won, a tie, or a skip (which tells nothing)."""
    recorded = await found.ranking.record_duel(
        caller.user_id, session_id, request.a, request.b, request.outcome
    )
    await _after_change(jobs, found.ranking, caller.user_id, session_id)
    return Duel.of(recorded)


@router.delete("/sessions/{session_id}/duels/last")
async def undo(session_id: str, caller: Caller, found: ServicesDep, jobs: JobRuntimeDep) -> Duel:
    """Take back the newest duel."""
    undone = await found.ranking.undo_last(caller.user_id, session_id)
    if undone is None:
        raise NotFound("duel", "last")
    await _after_change(jobs, found.ranking, caller.user_id, session_id)
    return Duel.of(undone)


@router.post("/sessions/{session_id}/rank", status_code=202)
async def rank_now(
    session_id: str, caller: Caller, found: ServicesDep, jobs: JobRuntimeDep
) -> Accepted:
    """Refit the ranking now (in the background)."""
    await found.ranking.get(caller.user_id, session_id)  # the caller's, or 404
    return await _rank(jobs, caller.user_id, session_id, Priority.HIGH)


class ImportRequest(BaseModel):
    artist_id: SpotifyId


class ImportAccepted(Accepted):
    session_id: str


@router.post("/import", status_code=202)
async def import_artist(
    request: ImportRequest, caller: RankingCaller, found: ServicesDep, jobs: JobRuntimeDep
) -> ImportAccepted:
    """Rank all: an empty session now, filled album by album in the background (LOW priority),
    so duels can start with the first album."""
    artist = await found.upstreams.spotify.artist(request.artist_id, priority=Priority.HIGH)
    session_id = await found.ranking.create_session(caller.user_id, artist.name, [], artist.id)
    enqueued = await jobs.enqueuer.enqueue(
        IMPORT,
        {"session_id": session_id, "artist_id": artist.id},
        user_id=caller.user_id,
        priority=Priority.LOW,
        dedupe=session_id,
    )
    return ImportAccepted(
        task_id=enqueued.job.id, status=enqueued.job.status.value, session_id=session_id
    )


async def _rank(jobs: JobRuntime, user_id: str, session_id: str, priority: Priority) -> Accepted:
    enqueued = await jobs.enqueuer.enqueue(
        RANK, {"session_id": session_id}, user_id=user_id, priority=priority, dedupe=session_id
    )
    return Accepted(task_id=enqueued.job.id, status=enqueued.job.status.value)


async def _after_change(
    jobs: JobRuntime, ranking: RankingService, user_id: str, session_id: str
) -> None:
    """Every few informative duels, refit the session; every duel, refresh the artist's
    leaderboard (one job per artist at a time; it counts what arrived meanwhile)."""
    unfitted, artist = await ranking.pending(session_id)
    if unfitted >= RANK_EVERY:
        await _rank(jobs, user_id, session_id, Priority.NORMAL)
    if artist is not None:
        await jobs.enqueuer.enqueue(
            LEADERBOARD, {"artist_id": artist}, priority=Priority.NORMAL, dedupe=artist
        )
