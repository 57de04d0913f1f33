"""Bradley–Terry as choix computes it, ties and skips as specified, a convergence that climbs,
and a next pair that is informative and deterministic."""

from __future__ import annotations

import random
import time

import choix
import numpy as np
import pytest

from backbeat.domain.ranking.convergence import progress, target_duels
from backbeat.domain.ranking.model import Duel, default_alpha, fit, next_pair

SONGS = [11, 22, 33, 44, 55]
# 11 > 22 > 33 > 44 > 55, with one upset (44 over 33)
WINS = [(11, 22), (22, 33), (33, 44), (44, 55), (11, 33), (22, 44), (44, 33), (11, 55), (33, 55)]


def choix_scores(
    song_ids: list[int], pairs: list[tuple[int, int]], alpha: float
) -> dict[int, float]:
    index = {song: i for i, song in enumerate(song_ids)}
    data = [(index[w], index[loser]) for w, loser in pairs]
    params = choix.ilsr_pairwise(len(song_ids), data, alpha=alpha)
    params = params - params.mean()
    return {song: float(params[index[song]]) for song in song_ids}


def test_wins_give_exactly_choix_s_ranking() -> None:
    fitted = fit(SONGS, [Duel(w, loser) for w, loser in WINS])
    expected = choix_scores(SONGS, WINS, default_alpha(len(SONGS)))
    assert [s.song_id for s in fitted.ranking] == sorted(SONGS, key=lambda s: -expected[s])
    for song in fitted.ranking:
        assert song.score == pytest.approx(expected[song.song_id], abs=1e-7)
    assert sum(fitted.scores.values()) == pytest.approx(0.0, abs=1e-9)  # mean 0
    assert [s.rank for s in fitted.ranking] == [1, 2, 3, 4, 5]
    top = fitted.ranking[0]
    assert (top.song_id, top.wins, top.losses, top.ties) == (11, 3, 0, 0)
    assert fitted.duels == len(WINS)


def test_a_tie_is_half_a_win_each_way() -> None:
    ties = [(22, 33), (44, 55)]
    duels = [Duel(w, loser) for w, loser in WINS] + [Duel(a, b, "tie") for a, b in ties]
    fitted = fit(SONGS, duels)
    # In choix's list form: every win twice, every tie once each way, and alpha doubled.
    doubled = [p for p in WINS for _ in range(2)] + ties + [(b, a) for a, b in ties]
    expected = choix_scores(SONGS, doubled, 2 * default_alpha(len(SONGS)))
    for song in fitted.ranking:
        assert song.score == pytest.approx(expected[song.song_id], abs=1e-7)
    record = {s.song_id: (s.wins, s.losses, s.ties) for s in fitted.ranking}
    assert record[22] == (2, 1, 1)
    assert record[55] == (0, 3, 1)


def test_a_tie_pulls_two_scores_together() -> None:
    before = fit([1, 2], [Duel(1, 2), Duel(1, 2)]).scores
    after = fit([1, 2], [Duel(1, 2), Duel(1, 2), Duel(1, 2, "tie")]).scores
    assert 0 < after[1] - after[2] < before[1] - before[2]
    # A tie is not a loss for both: tied songs stay level with each other.
    level = fit([1, 2, 3], [Duel(1, 2, "tie"), Duel(1, 3), Duel(2, 3)]).scores
    assert level[1] == pytest.approx(level[2], abs=1e-9)


def test_a_skip_changes_nothing() -> None:
    duels = [Duel(w, loser) for w, loser in WINS]
    skipped = [*duels, Duel(11, 55, "skip"), Duel(33, 44, "skip")]
    assert fit(SONGS, skipped) == fit(SONGS, duels)


def test_no_duels_no_order_and_no_convergence() -> None:
    fitted = fit([3, 1, 2], [])
    assert [s.song_id for s in fitted.ranking] == [1, 2, 3]  # equal scores rank by id
    assert fitted.scores == {1: 0.0, 2: 0.0, 3: 0.0}
    assert fitted.convergence == 0.0
    assert fit([7], []).convergence == 1.0  # nothing to order
    assert fit([], []).ranking == []


def play(song_ids: list[int], strength: dict[int, float], rounds: int, noise: float) -> list[float]:
    """A user answering next_pair's duels; convergence after every round of n duels."""
    rng = random.Random(5)
    duels: list[Duel] = []
    counts: dict[tuple[int, int], int] = {}
    scores = dict.fromkeys(song_ids, 0.0)
    readings = []
    for _ in range(rounds):
        for _ in range(len(song_ids)):
            pair = next_pair(scores, counts)
            assert pair is not None
            a, b = pair
            counts[pair] = counts.get(pair, 0) + 1
            winner = a if (strength[a] > strength[b]) != (rng.random() < noise) else b
            duels.append(Duel(winner, b if winner == a else a))
        fitted = fit(song_ids, duels)
        scores = fitted.scores
        readings.append(fitted.convergence)
    order = [s.song_id for s in fitted.ranking]
    if noise == 0:
        assert order == sorted(song_ids, key=lambda s: -strength[s])
    return readings


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_convergence_climbs_as_duels_accumulate(noise: float) -> None:
    songs = list(range(1, 13))
    rng = random.Random(3)
    strength = {s: rng.gauss(0, 1.5) for s in songs}
    readings = play(songs, strength, rounds=8, noise=noise)
    assert all(0.0 < r < 1.0 for r in readings)
    assert readings[-1] > readings[0] + 0.2
    assert readings[-1] == max(readings)


def test_next_pair_prefers_an_uncompared_close_pair() -> None:
    scores = {1: 0.0, 2: 0.05, 3: 0.1, 4: 2.0, 5: -2.0}
    assert next_pair(scores, {}) == (1, 2)  # closest; (2, 3) as close, ids break the tie
    assert next_pair(scores, {(1, 2): 3}) == (2, 3)
    # Once the close ones all met, a song without duels comes in despite the gap.
    later = next_pair(scores, {(2, 1): 3, (3, 2): 1, (1, 3): 1})
    assert later is not None
    assert set(later) & {4, 5}
    assert next_pair({1: 0.0}, {}) is None
    assert next_pair({}, {}) is None


def test_next_pair_brings_in_songs_without_duels() -> None:
    scores = dict.fromkeys(range(1, 7), 0.0)
    counts: dict[tuple[int, int], int] = {}
    for _ in range(3):
        pair = next_pair(scores, counts)
        assert pair is not None
        counts[pair] = 1
    assert sorted(counts) == [(1, 2), (3, 4), (5, 6)]


def test_next_pair_on_a_large_session_looks_at_neighbours_only() -> None:
    values = np.random.default_rng(9).normal(size=2000)
    scores = {song: float(value) for song, value in enumerate(values, start=1)}
    started = time.perf_counter()
    pair = next_pair(scores, {})
    assert time.perf_counter() - started < 2.0
    assert pair is not None
    a, b = pair
    ordered = sorted(scores, key=lambda s: scores[s])
    assert abs(ordered.index(a) - ordered.index(b)) == 1  # the closest scores are adjacent
    assert next_pair(scores, {}) == pair


def test_progress_targets_n_log_n() -> None:
    assert target_duels(1) == 0
    assert target_duels(8) == 24
    assert progress(12, 8) == 0.5
    assert progress(100, 8) == 1.0
    assert progress(0, 1) == 1.0
