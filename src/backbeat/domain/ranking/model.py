"""Bradley–Terry scores from a session's duels (fitted with choix), how settled their order is,
and which duel to ask for next. Pure: numbers in, numbers out.

Encoding (`comparison_matrix`): entry [i, j] counts i's wins over j. A win adds 1 to
[winner, loser]; a tie is half a win each way, 0.5 to both [a, b] and [b, a] — a tie says the
two are close, and pulls their scores together, where the old ranker counted it as a loss for
both. A skip ("don't know them", "can't choose") carries no information and adds nothing.
choix's dense I-LSR takes these fractional counts as they are; its pairwise-list form, where a
tie would have to be written as both directions, needs whole duels: doubling every win there
and doubling alpha gives the same fit.

Regularization: choix's `alpha` is a rate added between every pair, worth 2·alpha·(wᵢ+wⱼ)
virtual duels split evenly, ≈ 4·alpha at equal strengths. `default_alpha` spreads
`PRIOR_DUELS` = 1 virtual duel per song over its n−1 pairs — as if every song had tied once with
an average song — so a song that won its only duel is ahead, not infinitely ahead, and the
pull towards the average is the same whatever the session's size.

Scores are natural-log strengths with mean 0: exp(sᵢ − sⱼ) is the odds that i beats j.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import choix
import numpy as np
from numpy.typing import NDArray

from backbeat.domain.ranking.convergence import convergence

PRIOR_DUELS = 1.0  # each song starts as if it had tied once with an average song
MAX_ITERATIONS = 1000
FULL_SEARCH_LIMIT = 500  # next_pair weighs every pair up to this many songs …
NEIGHBOURS = 32  # … beyond it, only each song's neighbours in score order
SCORE_DIGITS = 9  # scores equal to this many decimals rank by song id


@dataclass(frozen=True, slots=True)
class Duel:
    """One comparison. For a tie or a skip the two ids only name the pair."""

    winner_id: int
    loser_id: int
    outcome: str = "win"  # win | tie | skip


@dataclass(frozen=True, slots=True)
class RankedSong:
    song_id: int
    rank: int  # 1 is the best
    score: float
    wins: int
    losses: int
    ties: int


@dataclass(frozen=True, slots=True)
class Fit:
    ranking: list[RankedSong]  # best first
    convergence: float  # 0 … 1, see `convergence.convergence`
    alpha: float
    duels: int  # informative duels (wins and ties) the fit used

    @property
    def scores(self) -> dict[int, float]:
        return {song.song_id: song.score for song in self.ranking}


def default_alpha(song_count: int) -> float:
    # Each pair carries ≈ 4·alpha virtual duels at equal strength; n−1 pairs per song.
    return PRIOR_DUELS / (4 * max(1, song_count - 1))


def comparison_matrix(song_ids: Sequence[int], duels: Iterable[Duel]) -> NDArray[np.float64]:
    """Wins of row over column, ties as half a win each way, skips left out."""
    index = {song_id: i for i, song_id in enumerate(song_ids)}
    matrix = np.zeros((len(song_ids), len(song_ids)))
    for duel in duels:
        a, b = index[duel.winner_id], index[duel.loser_id]
        if duel.outcome == "win":
            matrix[a, b] += 1.0
        elif duel.outcome == "tie":
            matrix[a, b] += 0.5
            matrix[b, a] += 0.5
    return matrix


def bradley_terry(matrix: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Mean-zero log-strengths: choix's I-LSR maximum of the regularized likelihood."""
    if len(matrix) < 2:
        return np.zeros(len(matrix))
    try:
        params = choix.ilsr_pairwise_dense(matrix, alpha=alpha, max_iter=MAX_ITERATIONS)
    except RuntimeError:
        # Not settled to 1e-8 in MAX_ITERATIONS: one LSR step is still a consistent estimate.
        params = choix.lsr_pairwise_dense(matrix, alpha=alpha)
    return np.asarray(params - params.mean(), dtype=np.float64)


def fit(song_ids: Sequence[int], duels: Iterable[Duel], *, alpha: float | None = None) -> Fit:
    """The session's ranking over `song_ids` from its (not undone) duels."""
    duels = list(duels)
    alpha = default_alpha(len(song_ids)) if alpha is None else alpha
    matrix = comparison_matrix(song_ids, duels)
    scores = bradley_terry(matrix, alpha)
    record = {song_id: [0, 0, 0] for song_id in song_ids}
    for duel in duels:
        if duel.outcome == "win":
            record[duel.winner_id][0] += 1
            record[duel.loser_id][1] += 1
        elif duel.outcome == "tie":
            record[duel.winner_id][2] += 1
            record[duel.loser_id][2] += 1
    order = sorted(
        range(len(song_ids)), key=lambda i: (-round(float(scores[i]), SCORE_DIGITS), song_ids[i])
    )
    ranking = [
        RankedSong(song_ids[i], rank, float(scores[i]), *record[song_ids[i]])
        for rank, i in enumerate(order, start=1)
    ]
    settled = convergence(scores, matrix, alpha, order)
    return Fit(ranking, settled, alpha, sum(1 for d in duels if d.outcome != "skip"))


def _utilities(
    delta: NDArray[np.float64],
    duels_a: NDArray[np.float64],
    duels_b: NDArray[np.float64],
    met: NDArray[np.float64],
) -> NDArray[np.float64]:
    p = 1.0 / (1.0 + np.exp(-delta))
    value = p * (1.0 - p) * (1.0 / (1.0 + duels_a) + 1.0 / (1.0 + duels_b)) / (1.0 + met)
    return np.asarray(np.round(value, 12), dtype=np.float64)


def next_pair(
    scores: Mapping[int, float], counts: Mapping[tuple[int, int], int]
) -> tuple[int, int] | None:
    """The most informative next duel among the songs of `scores` (id → score; 0 for songs
    not fitted yet), given how often each pair met (`counts`, either order, skips included so
    a skipped pair is not offered straight back). None with fewer than two songs.

    A pair's value is p(1−p) — largest when the model cannot call the duel — times how little
    is known of the two songs, 1/(1+dᵢ) + 1/(1+dⱼ) with d a song's duels, divided by 1 + the
    times this pair already met. Equal values go to the lowest (a, b) ids, so the answer is
    deterministic; a < b in the result (the caller may show them either way round).

    Up to FULL_SEARCH_LIMIT songs every pair is weighed (O(n²), a few ms at 500); beyond it
    only pairs within NEIGHBOURS places in score order (O(n·NEIGHBOURS)): far-apart pairs have
    a tiny p(1−p), so the best pair is almost always among them.
    """
    ids = np.array(sorted(scores), dtype=np.int64)
    n = len(ids)
    if n < 2:
        return None
    position = {int(song_id): i for i, song_id in enumerate(ids)}
    values = np.array([scores[int(song_id)] for song_id in ids], dtype=np.float64)
    met_by_pair: dict[tuple[int, int], float] = {}
    duels = np.zeros(n)
    for (a, b), count in counts.items():
        if a in position and b in position and a != b and count > 0:
            i, j = sorted((position[a], position[b]))
            met_by_pair[i, j] = met_by_pair.get((i, j), 0.0) + count
            duels[i] += count
            duels[j] += count
    if n <= FULL_SEARCH_LIMIT:
        first, second = np.triu_indices(n, k=1)
        table = np.zeros((n, n))
        for (row, column), times in met_by_pair.items():
            table[row, column] = times
        met = table[first, second]
    else:
        by_score = np.lexsort((ids, values))
        width = min(NEIGHBOURS, n - 1)
        left = np.concatenate([by_score[:-k] for k in range(1, width + 1)])
        right = np.concatenate([by_score[k:] for k in range(1, width + 1)])
        first, second = np.minimum(left, right), np.maximum(left, right)
        pairs = zip(first.tolist(), second.tolist(), strict=True)
        met = np.array([met_by_pair.get(pair, 0.0) for pair in pairs])
    value = _utilities(values[first] - values[second], duels[first], duels[second], met)
    best = np.flatnonzero(value == value.max())
    a, b = min((int(ids[first[k]]), int(ids[second[k]])) for k in best)
    return a, b
