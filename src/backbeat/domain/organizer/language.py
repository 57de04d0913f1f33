"""Offline language detection of a track, with lingua restricted to the languages in use.

Evidence, combined as a weighted mean of lingua's confidence values (each text's values sum to 1
over the languages in use):

    score(lang) = (1.0 × title(lang) + 0.2 × artists(lang) + 0.2 × album(lang)) / 1.4

The title is what is sung; artist names and the album title are weaker evidence: they tip an
ambiguous title (Spanish or Portuguese "Nunca Amor") but cannot outvote a clear one (10 % of
songs are sung in English by artists who sing mostly in another language). The answer is the best
language when its score reaches `min_confidence` (default 0.3), else None: a text with no clear
language, or artist and album evidence alone (at most 0.4 / 1.4 ≈ 0.29), never decides.

Edition suffixes (" - Remastered 2011", "(Deluxe Edition)", "(feat. …)") are cut from titles
first: they are English whatever the song, and decide short titles otherwise.

On the simulator's labelled catalog this scores about 0.99 (tests print it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from backbeat.errors import ConfigurationError
from backbeat.spotify import models as m

# The simulator's languages (backbeat.simulator.languages), a sensible default for a deployment.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "pt", "it", "ja", "ko")
MIN_CONFIDENCE = 0.3
TITLE_WEIGHT, ARTIST_WEIGHT, ALBUM_WEIGHT = 1.0, 0.2, 0.2
# Texts whose confidence values are remembered: artist names and album titles recur on every
# track of theirs, and popular tracks in many users' libraries (~0.1 ms saved each time).
REMEMBERED_TEXTS = 50_000

_VERSION_WORDS = (
    r"remaster(?:ed)?|live|remix|edit|version|mix|acoustic|mono|stereo|deluxe|demo|"
    r"instrumental|single|bonus|feat\.?|ft\.?|with|from"
)
# A trailing " - … Remastered …" segment, or a trailing (…) / […] group naming a version.
_SUFFIX = re.compile(
    rf"\s*(?:[-–—]\s+[^-–—]*\b(?:{_VERSION_WORDS})\b[^-–—]*"
    rf"|[(\[][^()\[\]]*\b(?:{_VERSION_WORDS})\b[^()\[\]]*[)\]])\s*$",
    re.IGNORECASE,
)


def clean_title(title: str) -> str:
    """The title without edition and featuring suffixes; the title itself if nothing is left."""
    text = title.strip()
    while True:
        shorter = _SUFFIX.sub("", text).strip()
        if shorter == text or not shorter:
            return text
        text = shorter


def language_of(code: str) -> Language:
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
    except ValueError:
        raise ConfigurationError("organizer.languages", f"{code!r} is no ISO 639-1 code") from None


def language_name(code: str) -> str:
    """The language's English name ("Spanish") for playlist names."""
    return language_of(code).name.title()


@lru_cache(maxsize=4)
def detector_for(languages: tuple[str, ...]) -> LanguageDetector:
    """One detector per set of languages per process: building one loads its models (≈ 0.7 s
    for eight languages), so it is done once and shared. Detectors are read-only."""
    if len(set(languages)) < 2:
        raise ConfigurationError("organizer.languages", "name at least two languages")
    chosen = [language_of(code) for code in dict.fromkeys(languages)]
    return LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models().build()


@dataclass(frozen=True, slots=True)
class TrackText:
    """What a track says about its language: its title, its artists' names, its album's title."""

    title: str
    artists: str = ""
    album: str = ""

    @classmethod
    def of(cls, track: m.Track) -> TrackText:
        names = " ".join(artist.name for artist in track.artists)
        return cls(track.name, names, track.album.name)


class TrackLanguage:
    """Detects a track's language among `languages` (ISO 639-1 codes); build once, share."""

    def __init__(
        self,
        languages: Sequence[str] = DEFAULT_LANGUAGES,
        *,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        if not 0 <= min_confidence <= 1:
            raise ConfigurationError("organizer.min_confidence", "must be between 0 and 1")
        self.languages = tuple(dict.fromkeys(code.lower() for code in languages))
        self.min_confidence = min_confidence
        self.detector = detector_for(self.languages)
        self._confidences = lru_cache(maxsize=REMEMBERED_TEXTS)(self._compute_confidences)

    def _compute_confidences(self, text: str) -> Mapping[str, float]:
        if not text.strip():
            return {}
        values = self.detector.compute_language_confidence_values(text)
        return {v.language.iso_code_639_1.name.lower(): v.value for v in values}

    def scores(self, text: TrackText) -> dict[str, float]:
        """The combined score of every language in use (see the module's docstring)."""
        total = TITLE_WEIGHT + ARTIST_WEIGHT + ALBUM_WEIGHT
        scores = dict.fromkeys(self.languages, 0.0)
        evidence = (
            (TITLE_WEIGHT, clean_title(text.title)),
            (ARTIST_WEIGHT, text.artists),
            (ALBUM_WEIGHT, clean_title(text.album)),
        )
        for weight, part in evidence:
            for code, value in self._confidences(part).items():
                scores[code] = scores.get(code, 0.0) + weight * value / total
        return scores

    def detect(self, text: TrackText) -> str | None:
        """The ISO 639-1 code of the likeliest language, or None when unsure."""
        scores = self.scores(text)
        code, best = max(scores.items(), key=lambda item: item[1])
        return code if best >= self.min_confidence else None

    def detect_tracks(self, tracks: Iterable[m.Track]) -> dict[str, str | None]:
        """Language by track id. CPU-bound (≈ 0.1 ms a track): run it off the event loop."""
        return {track.id: self.detect(TrackText.of(track)) for track in tracks}
