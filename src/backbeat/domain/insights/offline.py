"""The offline provider: insights written from the snapshot's own numbers, with no network.

Deterministic by construction (no randomness, no clock): the same facts always give the same
text, and every sentence quotes the numbers it is about, so different listening reads
differently. It needs no key, so development, tests and demos always have a provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from backbeat.domain.insights.facts import SnapshotFacts, format_feature
from backbeat.domain.insights.prompts import resolve
from backbeat.domain.insights.provider import Generated
from backbeat.domain.insights.schemas import (
    InsightOutput,
    ProductivityInsight,
    RoastInsight,
    WeeklySummary,
    WellnessInsight,
)

# Roast lines as (gentle, savage).
ROASTS = {
    "genre": ("a choice you clearly stand by.", "that is not a taste, it is a rut."),
    "narrow": ("says you like what you like.", "means the algorithm gave up surprising you."),
    "broad": ("says you will try anything once.", "is not range, it is indecision."),
    "mood": (", and honestly, fair enough.", ", and somehow still forgettable."),
    "loyal": ("loyal to a fault", "the same few artists, on repeat, forever"),
    "fickle": ("a big circle of favourites", "commitment issues, in playlist form"),
    "still": ("more of a head-nod crowd", "even your playlist cannot dance"),
    "dancing": ("the kitchen is your dance floor", "dancing alone in your room again?"),
    "slow": ("a steady stroll", "the pace of a loading bar"),
    "fast": ("always in a hurry", "always late for something"),
    "acoustic": ("somebody owns a cardigan", "open-mic night, every night"),
    "one_mood": ("consistent, at least", "the emotional range of a screensaver"),
}


class OfflineProvider:
    name = "offline"
    model = "offline-v1"

    async def generate(self, insight_type: str, tone: str, facts: SnapshotFacts) -> Generated:
        spec, tone = resolve(insight_type, tone)
        return Generated(WRITERS[spec.insight_type](facts, tone), self.model)


def wellness(facts: SnapshotFacts, tone: str) -> WellnessInsight:
    valence, energy, moods = facts.mean("valence"), facts.mean("energy"), facts.mood_diversity
    score = mood_score(valence, energy)
    pairs = (("valence", valence), ("energy", energy))
    numbers = " and ".join(f"{name} {value:.2f}" for name, value in pairs if value is not None)
    n, span = facts.track_count, facts.span
    if numbers:
        lead = {"supportive": "Your music feels", "neutral": "Listening mood:"}.get(tone, "Mostly")
        headline = f"{lead} {_mood(valence, energy)}, mood {score}/100"
        body = f"Across {n} tracks from {span}, your music averages {numbers}: mood {score}/100."
    else:
        headline = f"Not enough audio features yet ({n} tracks)"
        body = f"This snapshot covers {n} tracks from {span} but holds no valence or energy, "
        body += f"so the mood score stays at a neutral {score}/100."
    closing = {
        "supportive": "Music that fits how you feel is already doing its job.",
        "neutral": "The observations below list what the snapshot shows.",
        "direct": "Here is what stands out, and what to change.",
    }[tone]
    observations = [
        f"{label} averages {format_feature(name, stats.mean)}{_spread(name, stats.min, stats.max)}"
        for name, label in (
            ("valence", "Valence (musical positivity)"),
            ("energy", "Energy"),
            ("tempo", "Tempo"),
            ("acousticness", "Acousticness"),
        )
        if (stats := facts.features.get(name)) is not None
    ]
    if facts.moods:
        top = facts.moods[0]
        observations.append(f"{top.share:.0%} of plays fall in the {_words(top.quadrant)} quadrant")
    if moods is not None:
        observations.append(f"Mood diversity is {moods:.2f} (1 = evenly spread)")
    suggestions = []
    if valence is not None and valence < 0.4:
        suggestions.append(
            f"Add a few brighter tracks (valence over 0.60) to lift the {valence:.2f}"
        )
    if energy is not None and energy > 0.7:
        suggestions.append(f"Wind down with calmer music at night; energy averages {energy:.2f}")
    if energy is not None and energy < 0.4:
        suggestions.append(f"Play something up-tempo on slow days; energy averages {energy:.2f}")
    if moods is not None and moods < 0.4:
        suggestions.append(f"Explore a mood you rarely play: mood diversity is {moods:.2f}")
    if not suggestions:
        suggestions.append("Keep the balance you have: nothing in these numbers calls for a change")
    if tone == "supportive":
        suggestions = [f"If it feels right, {text[0].lower()}{text[1:]}" for text in suggestions]
    return WellnessInsight(
        headline=headline,
        summary=f"{body} {closing}",
        observations=observations[:6] or ["No audio features or moods were recorded yet"],
        suggestions=suggestions[:5],
        mood_score=score,
    )


def roast(facts: SnapshotFacts, tone: str) -> RoastInsight:
    savage = tone == "savage"

    def say(key: str) -> str:
        return ROASTS[key][savage]

    n, sentences, burns = facts.track_count, [], []
    if facts.genres:
        genre, count = facts.genres[0]
        share = count / facts.genre_plays
        headline = f"{share:.0%} {genre}. Of course." if savage else f"{n} tracks, mostly {genre}"
        sentences.append(
            f"{genre[0].upper()}{genre[1:]} takes {share:.0%} of your genres ({count} of "
        )
        sentences[-1] += f"{facts.genre_plays}): {say('genre')}"
    else:
        headline = f"{n} tracks, zero genres" if savage else f"{n} tracks of mystery genres"
    if (genres := facts.genre_diversity) is not None:
        spread = say("narrow" if genres < 0.5 else "broad")
        sentences.append(f"A genre diversity of {genres:.2f} {spread}")
    valence, energy = facts.mean("valence"), facts.mean("energy")
    if valence is not None and energy is not None:
        mood = _mood(valence, energy)
        sentences.append(f"Valence {valence:.2f} and energy {energy:.2f}: {mood}{say('mood')}")
    if not sentences:
        sentences.append(f"{n} tracks and barely a number to roast: even your data is shy.")
    if (artists := facts.artist_diversity) is not None:
        burns.append(
            f"Artist diversity {artists:.2f}: {say('loyal' if artists < 0.5 else 'fickle')}"
        )
    if (dance := facts.mean("danceability")) is not None:
        burns.append(f"Danceability {dance:.2f}: {say('still' if dance < 0.5 else 'dancing')}")
    if (tempo := facts.mean("tempo")) is not None:
        pace = say("slow" if tempo < 110 else "fast")
        burns.append(f"{format_feature('tempo', tempo)} on average: {pace}")
    if (acoustic := facts.mean("acousticness")) is not None and acoustic >= 0.5:
        burns.append(f"Acousticness {acoustic:.2f}: {say('acoustic')}")
    if facts.moods:
        top = facts.moods[0]
        burns.append(f"{top.share:.0%} of plays feel {_words(top.quadrant)}: {say('one_mood')}")
    if not burns:
        burns.append(
            f"{n} tracks and not one surprise" if savage else f"{n} tracks, all defensible"
        )
    return RoastInsight(headline=headline, roast=" ".join(sentences), burns=burns[:6])


def productivity(facts: SnapshotFacts, tone: str) -> ProductivityInsight:
    coach = tone == "coach"
    focus = facts.peak_hours(3)
    plays = dict(facts.plays_by_hour)
    recommendations = []
    if focus:
        hours = ", ".join(_hour(hour) for hour in focus)
        peak = max(focus, key=lambda hour: (plays[hour], -hour))
        headline = f"Your focus window: {hours}" if coach else f"Most listening at {hours}"
        summary = f"Of {facts.hourly_plays} plays with a known hour, "
        summary += f"{sum(plays[hour] for hour in focus)} fall at {hours}."
        recommendations.append(
            f"Plan demanding work around {_hour(peak)}, when you listen most ({plays[peak]} plays)"
        )
    else:
        headline = "Let's find your focus window" if coach else "No hourly pattern yet"
        summary = f"This snapshot has {facts.track_count} tracks but no plays by hour yet."
    instrumental, speech = facts.mean("instrumentalness"), facts.mean("speechiness")
    energy = facts.mean("energy")
    if instrumental is not None:
        summary += f" Instrumentalness averages {instrumental:.2f}."
        recommendations.append(
            f"Use instrumental music for deep work: yours averages only {instrumental:.2f}"
            if instrumental < 0.3
            else f"Keep instrumental tracks for deep work: they already average {instrumental:.2f}"
        )
    if speech is not None and speech > 0.2:
        recommendations.append(f"Keep wordy tracks (speechiness {speech:.2f}) for routine tasks")
    if energy is not None and energy > 0.7:
        recommendations.append(f"High energy ({energy:.2f}) suits sprints; go calmer for reading")
    elif energy is not None and energy < 0.4:
        recommendations.append(
            f"Calm music (energy {energy:.2f}) suits reading; go faster for chores"
        )
    if not recommendations:
        recommendations.append("Try one 50-minute block with a single instrumental playlist")
    summary += " You have what you need to plan around it." if coach else ""
    return ProductivityInsight(
        headline=headline,
        summary=summary,
        focus_hours=list(focus),
        recommendations=recommendations[:5],
    )


def weekly_summary(facts: SnapshotFacts, tone: str) -> WeeklySummary:
    n = facts.track_count
    headline = f"Your week: {n} tracks" + (f", led by {facts.genres[0][0]}" if facts.genres else "")
    summary = f"This snapshot ({facts.span}) counts {n} tracks from "
    summary += f"{len(facts.top_artist_ids)} top artists."
    highlights = []
    if facts.genres:
        top = ", ".join(f"{genre} ({count})" for genre, count in facts.genres[:3])
        highlights.append(f"Top genres: {top}")
    if facts.moods:
        mood = facts.moods[0]
        highlights.append(f"Most plays felt {_words(mood.quadrant)} ({mood.share:.0%})")
        summary += f" Most plays felt {_words(mood.quadrant)}."
    if facts.plays_by_hour:
        hour, plays = max(facts.plays_by_hour, key=lambda item: (item[1], -item[0]))
        highlights.append(f"Busiest hour: {_hour(hour)} with {plays} plays")
    valence, energy = facts.mean("valence"), facts.mean("energy")
    if valence is not None and energy is not None:
        highlights.append(f"Average valence {valence:.2f}, energy {energy:.2f}")
        summary += f" The music averaged valence {valence:.2f} and energy {energy:.2f}."
    if facts.genre_diversity is not None and facts.artist_diversity is not None:
        diversity = f"{facts.genre_diversity:.2f}, artist diversity {facts.artist_diversity:.2f}"
        highlights.append(f"Genre diversity {diversity}")
    return WeeklySummary(
        headline=headline,
        summary=summary,
        highlights=highlights[:6] or ["A quiet week: nothing recorded beyond the track count"],
    )


WRITERS: Mapping[str, Callable[[SnapshotFacts, str], InsightOutput]] = {
    "wellness": wellness,
    "roast": roast,
    "productivity": productivity,
    "weekly_summary": weekly_summary,
}


def mood_score(valence: float | None, energy: float | None) -> int:
    """0 to 100, mostly valence: how bright the music is, then how lively."""
    if valence is not None and energy is not None:
        score = 0.7 * valence + 0.3 * energy
    else:
        score = valence if valence is not None else energy if energy is not None else 0.5
    return max(0, min(100, round(100 * score)))


def _mood(valence: float | None, energy: float | None) -> str:
    lively = energy is not None and energy >= 0.6
    calm = energy is not None and energy < 0.4
    if valence is None:
        return "energetic" if lively else "calm" if calm else "steady"
    if valence >= 0.6:
        return "bright and energetic" if lively else "bright and relaxed"
    if valence < 0.4:
        return "tense and driving" if lively else "subdued and reflective"
    return "upbeat but mixed" if lively else "mellow" if calm else "balanced"


def _spread(feature: str, low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f", from {format_feature(feature, low)} to {format_feature(feature, high)}"


def _words(name: str) -> str:
    return name.replace("_", " ")


def _hour(hour: int) -> str:
    return f"{hour:02d}:00"
