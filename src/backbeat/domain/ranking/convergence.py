"""How settled a session's order is, and how far along its duels are — the two numbers a user
reads to decide whether to keep duelling.

Convergence is the expected stability of the ranking's adjacent pairs: for each neighbouring
pair (#1 vs #2, #2 vs #3, …) the model's probability that their order is right, averaged and
rescaled from [0.5, 1] (a coin flip) to [0, 1] (certain). The probability comes from the
Laplace approximation of the fit: the precision of the scores is the Fisher information of the
duels — p(1−p) per duel between two songs — plus that of the regularization's virtual duels,
and P(order right) = Φ(gap / sd(gap)). Before any duel every gap is 0 and so is convergence;
each informative duel narrows sd or widens a gap, so it climbs towards 1 as a consistent user
keeps answering. It counts a pair as unsettled while its gap is small against its uncertainty,
so two songs the user keeps calling a tie hold it down by their share of the pairs — honestly:
the model cannot order them.

A session of fewer than two songs has nothing to order: convergence 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

EXACT_LIMIT = 1000  # songs up to which the covariance is inverted exactly (O(n³), ~0.1 s)


def convergence(
    scores: NDArray[np.float64],
    matrix: NDArray[np.float64],
    alpha: float,
    order: Sequence[int],
) -> float:
    """`scores` (log-strengths), `matrix` (the fit's comparison matrix), the fit's `alpha`, and
    `order`: indexes into both, best first."""
    n = len(scores)
    if n < 2:
        return 1.0
    weights = np.exp(scores - scores.max())
    weights *= n / weights.sum()  # choix's scale: strengths average 1
    total = weights[:, None] + weights[None, :]
    p = weights[:, None] / total
    # Real duels inform p(1−p) each; choix's alpha is 2·alpha·(wᵢ+wⱼ) virtual duels per pair.
    information = (matrix + matrix.T) * p * p.T + 2 * alpha * np.outer(weights, weights) / total
    np.fill_diagonal(information, 0.0)
    precision = np.diag(information.sum(axis=1)) - information
    upper = np.asarray(order[:-1], dtype=np.int64)
    lower = np.asarray(order[1:], dtype=np.int64)
    gaps = np.abs(scores[upper] - scores[lower])
    if n <= EXACT_LIMIT:
        # Scores are only defined up to a common shift; adding 1/n to every entry pins their
        # mean without changing the variance of any difference.
        covariance = np.linalg.inv(precision + 1.0 / n)
        variances = (
            covariance[upper, upper] + covariance[lower, lower] - 2 * covariance[upper, lower]
        )
    else:
        # Large sessions: each song's own information only, ignoring the covariances.
        diagonal = np.diag(precision)
        variances = 1.0 / diagonal[upper] + 1.0 / diagonal[lower]
    right = [
        _normal_cdf(gap / math.sqrt(max(variance, 1e-12)))
        for gap, variance in zip(gaps.tolist(), variances.tolist(), strict=True)
    ]
    return min(1.0, max(0.0, 2.0 * float(np.mean(right)) - 1.0))


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def target_duels(song_count: int) -> int:
    """n·log₂n: about what a comparison sort needs to order n songs."""
    return 0 if song_count < 2 else math.ceil(song_count * math.log2(song_count))


def progress(duels: int, song_count: int) -> float:
    """Duels done against `target_duels`, capped at 1."""
    target = target_duels(song_count)
    return 1.0 if target == 0 else min(1.0, duels / target)
