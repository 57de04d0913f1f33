"""`RankingService` on SQLite and Postgres: sessions owned by their user, duels recorded
atomically, ties and skips and undo as specified, the ranking choix gives."""

from __future__ import annotations

import asyncio

import choix
import pytest
from sqlalchemy import func, select

from backbeat.clock import FakeClock
from backbeat.db.engine import Database
from backbeat.db.models import Comparison, RankingSession, SessionRanking, SessionSong, Song, User
from backbeat.domain.ranking.model import default_alpha
from backbeat.domain.ranking.service import RankingService
from backbeat.errors import InvalidRequest, NotFound


async def add_user(database: Database, spotify_id: str = "listener") -> str:
    async with database.sessions() as session, session.begin():
        user = User(spotify_id=spotify_id)
        session.add(user)
    return user.id


async def add_songs(database: Database, count: int, *, prefix: str = "t") -> list[int]:
    async with database.sessions() as session, session.begin():
        songs = [
            Song(
                spotify_id=f"{prefix}{n:03d}",
                isrc=f"QZTEST{prefix.upper()}{n:05d}"[:12],
                title=f"Song {prefix}{n}",
                normalized_title=f"song {prefix}{n}",
                artist_spotify_id="artist",
                artist_name="Artist",
                album_name="Album",
                release_date="2001-01-01",
                duration_ms=200_000 + n * 20_000,
            )
            for n in range(count)
        ]
        session.add_all(songs)
    return [song.id for song in songs]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(database: Database, clock: FakeClock) -> RankingService:
    return RankingService(database, clock)


async def count_rows(database: Database, model: type, session_id: str) -> int:
    async with database.sessions() as session:
        counted = await session.scalar(
            select(func.count()).select_from(model).where(model.session_id == session_id)  # type: ignore[attr-defined]
        )
    return counted or 0


async def test_a_new_session_before_any_duel(database: Database, service: RankingService) -> None:
    user = await add_user(database)
    songs = await add_songs(database, 4)
    session_id = await service.create_session(user, "  My songs ", songs, "artist")
    view = await service.get(user, session_id)
    assert (view.name, view.artist_spotify_id, view.status) == ("My songs", "artist", "active")
    assert [s.id for s in view.songs] == songs
    assert [(e.song.id, e.rank, e.score) for e in view.ranking] == [(s, None, None) for s in songs]
    assert (view.duels, view.duels_since_fit, view.convergence, view.ranked_at) == (
        0,
        0,
        None,
        None,
    )
    assert (view.target_duels, view.progress) == (8, 0.0)
    [summary] = await service.list_sessions(user)
    assert (summary.id, summary.song_count, summary.duels) == (session_id, 4, 0)
    with pytest.raises(InvalidRequest):
        await service.create_session(user, " ", songs)
    with pytest.raises(InvalidRequest):
        await service.create_session(user, "x", [*songs, 999_999])


async def test_songs_are_deduplicated_on_the_way_in(
    database: Database, service: RankingService
) -> None:
    user = await add_user(database)
    songs = await add_songs(database, 3)
    async with database.sessions() as session, session.begin():
        remaster = Song(
            spotify_id="remaster",
            isrc=(await session.get(Song, songs[0])).isrc,  # type: ignore[union-attr]
            title="Song t0 - Remastered 2011",
            normalized_title="song t0",
            artist_spotify_id="artist",
            artist_name="Artist",
            album_name="Album (Remastered)",
            release_date="2011-01-01",
        )
        session.add(remaster)
    session_id = await service.create_session(user, "dedup", [remaster.id, songs[0], songs[1]])
    view = await service.get(user, session_id)
    assert [s.id for s in view.songs] == [songs[0], songs[1]]  # the original, not the remaster
    added = await service.add_songs(session_id, [remaster.id, songs[2], songs[1]])
    assert added == [songs[2]]
    with pytest.raises(NotFound):
        await service.add_songs(session_id, [songs[2]], user_id="someone-else")


# Strength order 0 > 1 > 2 > 3 > 4 with an upset; (winner index, loser index).
SCRIPT = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 2), (1, 3), (3, 2), (0, 4), (2, 4), (1, 4)]


def choix_ranking(songs: list[int], pairs: list[tuple[int, int]]) -> list[tuple[int, float]]:
    data = [(songs.index(w), songs.index(loser)) for w, loser in pairs]
    params = choix.ilsr_pairwise(len(songs), data, alpha=default_alpha(len(songs)))
    params = params - params.mean()
    order = sorted(range(len(songs)), key=lambda i: (-params[i], songs[i]))
    return [(songs[i], float(params[i])) for i in order]


async def test_scripted_duels_rank_as_choix_does(
    database: Database, service: RankingService, clock: FakeClock
) -> None:
    user = await add_user(database)
    songs = await add_songs(database, 5)
    session_id = await service.create_session(user, "script", songs)
    pairs = [(songs[w], songs[loser]) for w, loser in SCRIPT]
    for number, (winner, loser) in enumerate(pairs):
        # The winner shown on either side: "a" and "b" both name it.
        a, b, outcome = (winner, loser, "a") if number % 2 else (loser, winner, "b")
        recorded = await service.record_duel(user, session_id, a, b, outcome)
        assert (recorded.winner_id, recorded.loser_id, recorded.outcome) == (winner, loser, "win")
        assert recorded.duels == number + 1
        clock.advance(1)
    assert await service.duels_since_fit(session_id) == len(pairs)
    fitted = await service.recompute(session_id)
    view = await service.get(user, session_id)
    expected = choix_ranking(songs, pairs)
    assert [e.song.id for e in view.ranking] == [song for song, _ in expected]
    for entry, (_, score) in zip(view.ranking, expected, strict=True):
        assert entry.score == pytest.approx(score, abs=1e-7)
    assert [e.rank for e in view.ranking] == [1, 2, 3, 4, 5]
    top = view.ranking[0]
    assert (top.song.id, top.wins, top.losses, top.ties) == (songs[0], 3, 0, 0)
    assert view.convergence == pytest.approx(fitted.convergence)
    assert 0 < fitted.convergence < 1
    assert view.ranked_at is not None
    assert (view.duels, view.duels_since_fit) == (10, 0)
    assert view.progress == pytest.approx(10 / 12)
    clock.advance(1)
    await service.record_duel(user, session_id, songs[4], songs[0], "a")
    assert await service.duels_since_fit(session_id) == 1


async def scores(service: RankingService, user: str, session_id: str) -> dict[int, float]:
    await service.recompute(session_id)
    view = await service.get(user, session_id)
    return {e.song.id: e.score for e in view.ranking if e.score is not None}


async def test_a_skip_changes_nothing_and_a_tie_pulls_together(
    database: Database, service: RankingService, clock: FakeClock
) -> None:
    user = await add_user(database)
    a, b, c = await add_songs(database, 3)
    session_id = await service.create_session(user, "ties", [a, b, c])
    await service.record_duel(user, session_id, a, b, "a")
    await service.record_duel(user, session_id, a, c, "a")
    before = await scores(service, user, session_id)
    clock.advance(1)
    skipped = await service.record_duel(user, session_id, b, a, "skip")
    assert (skipped.outcome, skipped.duels) == ("skip", 3)
    assert await service.duels_since_fit(session_id) == 0  # nothing the model would see
    assert await scores(service, user, session_id) == before
    clock.advance(1)
    await service.record_duel(user, session_id, b, a, "tie")
    after = await scores(service, user, session_id)
    assert 0 < after[a] - after[b] < before[a] - before[b]
    view = await service.get(user, session_id)
    record = {e.song.id: (e.wins, e.losses, e.ties) for e in view.ranking}
    assert record == {a: (2, 0, 1), b: (0, 1, 1), c: (0, 1, 0)}
    assert view.duels == 4


async def test_undo_restores_the_ranking_before_the_duel(
    database: Database, service: RankingService, clock: FakeClock
) -> None:
    user = await add_user(database)
    songs = await add_songs(database, 4)
    session_id = await service.create_session(user, "undo", songs)
    assert await service.undo_last(user, session_id) is None
    for winner, loser in [(0, 1), (1, 2), (2, 3), (0, 3)]:
        await service.record_duel(user, session_id, songs[winner], songs[loser], "a")
    await service.recompute(session_id)
    settled = (await service.get(user, session_id)).ranking
    clock.advance(1)
    upset = await service.record_duel(user, session_id, songs[3], songs[0], "a")
    await service.record_duel(user, session_id, songs[3], songs[1], "skip")
    await service.recompute(session_id)
    assert (await service.get(user, session_id)).ranking != settled
    clock.advance(1)
    undone_skip = await service.undo_last(user, session_id)
    undone = await service.undo_last(user, session_id)
    assert undone_skip is not None
    assert undone_skip.outcome == "skip"
    assert undone is not None
    assert (undone.comparison_id, undone.duels) == (upset.comparison_id, 4)
    assert await service.duels_since_fit(session_id) == 1  # the undone win
    await service.recompute(session_id)
    view = await service.get(user, session_id)
    assert view.ranking == settled
    assert view.duels == 4
    async with database.sessions() as session:
        marked = await session.scalar(
            select(func.count()).where(
                Comparison.session_id == session_id, Comparison.undone_at.is_not(None)
            )
        )
    assert marked == 2  # kept for the record, marked


async def test_another_users_session_is_not_found(
    database: Database, service: RankingService
) -> None:
    owner = await add_user(database, "owner")
    intruder = await add_user(database, "intruder")
    a, b = await add_songs(database, 2)
    session_id = await service.create_session(owner, "mine", [a, b])
    attempts = [
        service.get(intruder, session_id),
        service.next_pair(intruder, session_id),
        service.record_duel(intruder, session_id, a, b, "a"),
        service.undo_last(intruder, session_id),
        service.delete_session(intruder, session_id),
        service.get(owner, "no-such-session"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as raised:
            await attempt
        assert raised.value.kind == "ranking session"
    assert await service.list_sessions(intruder) == []
    assert (await service.get(owner, session_id)).duels == 0


async def test_a_duel_needs_two_songs_of_the_session(
    database: Database, service: RankingService
) -> None:
    user = await add_user(database)
    a, b, outsider = await add_songs(database, 3)
    session_id = await service.create_session(user, "strict", [a, b])
    for args in [(a, outsider, "a"), (a, a, "a"), (a, b, "win"), (a, b, "")]:
        with pytest.raises(InvalidRequest):
            await service.record_duel(user, session_id, *args)
    assert (await service.get(user, session_id)).duels == 0
    assert await count_rows(database, Comparison, session_id) == 0


async def test_fifty_simultaneous_duels_are_all_counted(
    database: Database, service: RankingService
) -> None:
    user = await add_user(database)
    songs = await add_songs(database, 10)
    session_id = await service.create_session(user, "busy", songs)
    pairs = [(songs[i % 10], songs[(i * 3 + 1) % 10]) for i in range(60)]
    pairs = [(a, b) for a, b in pairs if a != b][:50]
    outcomes = ["a", "b", "tie", "skip"]
    await asyncio.gather(
        *(
            service.record_duel(user, session_id, a, b, outcomes[i % 4])
            for i, (a, b) in enumerate(pairs)
        )
    )
    async with database.sessions() as session:
        row = await session.get(RankingSession, session_id)
    assert row is not None
    assert row.comparison_count == 50
    assert await count_rows(database, Comparison, session_id) == 50
    await asyncio.gather(*(service.undo_last(user, session_id) for _ in range(20)))
    assert (await service.get(user, session_id)).duels == 30


async def test_next_pair_prefers_an_uncompared_close_pair(
    database: Database, service: RankingService
) -> None:
    user = await add_user(database)
    a, b, c, d = await add_songs(database, 4)
    session_id = await service.create_session(user, "pairs", [a, b, c, d])
    first = await service.next_pair(user, session_id)
    assert first is not None
    assert (first[0].id, first[1].id) == (a, b)
    for winner, loser in [(a, b), (a, b), (c, d), (c, d)]:
        await service.record_duel(user, session_id, winner, loser, "a")
    await service.recompute(session_id)
    pair = await service.next_pair(user, session_id)
    assert pair is not None
    assert (pair[0].id, pair[1].id) in {(a, c), (b, d)}  # level and never met
    lonely = await service.create_session(user, "one", [a])
    assert await service.next_pair(user, lonely) is None


async def test_songs_added_after_a_fit_wait_unranked_at_the_end(
    database: Database, service: RankingService
) -> None:
    user = await add_user(database)
    a, b, late = await add_songs(database, 3)
    session_id = await service.create_session(user, "growing", [a, b])
    await service.record_duel(user, session_id, b, a, "a")
    await service.recompute(session_id)
    assert await service.add_songs(session_id, [late], user_id=user) == [late]
    view = await service.get(user, session_id)
    assert [(e.song.id, e.rank) for e in view.ranking] == [(b, 1), (a, 2), (late, None)]
    pair = await service.next_pair(user, session_id)
    assert pair is not None
    assert late in {pair[0].id, pair[1].id}


async def test_deleting_a_session_takes_its_rows_and_leaves_the_songs(
    database: Database, service: RankingService
) -> None:
    user = await add_user(database)
    songs = await add_songs(database, 3)
    session_id = await service.create_session(user, "gone", songs)
    await service.record_duel(user, session_id, songs[0], songs[1], "a")
    await service.recompute(session_id)
    await service.delete_session(user, session_id)
    for model in (SessionSong, Comparison, SessionRanking):
        assert await count_rows(database, model, session_id) == 0
    with pytest.raises(NotFound):
        await service.get(user, session_id)
    with pytest.raises(NotFound):
        await service.recompute(session_id)
    with pytest.raises(NotFound):
        await service.delete_session(user, session_id)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Song)) == 3
