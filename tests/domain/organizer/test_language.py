"""Language detection, scored on the simulator's labelled catalog."""

from __future__ import annotations

from collections import Counter

import pytest

from backbeat.domain.organizer import (
    DEFAULT_LANGUAGES,
    TrackLanguage,
    TrackText,
    clean_title,
    detector_for,
    language_name,
)
from backbeat.errors import ConfigurationError
from backbeat.simulator.catalog import Catalog
from backbeat.simulator.languages import LANGUAGES


def test_the_default_languages_are_the_simulators() -> None:
    assert set(DEFAULT_LANGUAGES) == {language.code for language in LANGUAGES}


def test_accuracy_on_the_simulators_labelled_titles() -> None:
    catalog = Catalog(seed=42, artist_count=400)  # the simulator's default catalog
    detector = TrackLanguage()
    right, unsure, by_language = 0, 0, Counter[str]()
    totals = Counter(track.language for track in catalog.tracks.values())
    for track in catalog.tracks.values():
        artists = " ".join(catalog.artists[a].name for a in track.artist_ids)
        text = TrackText(track.name, artists, catalog.albums[track.album_id].name)
        found = detector.detect(text)
        if found is None:
            unsure += 1
        elif found == track.language:
            right += 1
            by_language[track.language] += 1
    accuracy = right / len(catalog.tracks)  # an unsure answer counts as wrong
    print(f"\nlanguage accuracy {accuracy:.4f} on {len(catalog.tracks)} titles, {unsure} unsure")
    for code, total in totals.most_common():
        print(f"  {code}: {by_language[code] / total:.3f} of {total}")
    assert accuracy >= 0.9


def test_title_only_accuracy_is_printed_too() -> None:
    catalog = Catalog(seed=7, artist_count=150)  # another seed: no tuning to one catalog
    detector = TrackLanguage()
    tracks = list(catalog.tracks.values())
    right = sum(detector.detect(TrackText(t.name)) == t.language for t in tracks)
    print(f"\ntitle-only accuracy {right / len(tracks):.4f} on {len(tracks)} titles (seed 7)")
    assert right / len(tracks) >= 0.9


def test_edition_suffixes_are_cut_from_titles() -> None:
    assert clean_title("Je Ne Regrette Rien - Remastered") == "Je Ne Regrette Rien"
    assert clean_title("Rain [Remastered 2011]") == "Rain"
    assert clean_title("Luna (feat. Bob) - Live at Wembley") == "Luna"
    assert clean_title("Bésame (Mucho)") == "Bésame (Mucho)"  # part of the title
    assert clean_title("Jump - For My Love") == "Jump - For My Love"
    assert clean_title("(Live)") == "(Live)"  # never empty


def test_a_clear_title_decides_and_weak_evidence_only_tips() -> None:
    detector = TrackLanguage()
    assert detector.detect(TrackText("Quiero Bailar Contigo Esta Noche")) == "es"
    assert detector.detect(TrackText("君の名前を呼ぶ")) == "ja"
    assert detector.detect(TrackText("너를 사랑해")) == "ko"
    # English song by a Spanish-named artist on a Spanish album: the title wins.
    text = TrackText("I Will Wait for You Tonight", "Alejandro García", "Corazón de Fuego")
    assert detector.detect(text) == "en"
    # Nothing to go on, or only the weak evidence: unsure.
    assert detector.detect(TrackText("1999")) is None
    assert detector.detect(TrackText("", "Lukas Müller", "Über den Wolken")) is None


def test_the_detector_is_built_once_per_language_set() -> None:
    assert (
        TrackLanguage().detector
        is TrackLanguage(["en", "es", "fr", "de", "pt", "it", "ja", "ko"]).detector
    )
    assert detector_for(("en", "es")) is detector_for(("en", "es"))


def test_bad_language_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="xx"):
        TrackLanguage(["en", "xx"])
    with pytest.raises(ConfigurationError, match="two"):
        TrackLanguage(["en"])
    with pytest.raises(ConfigurationError):
        TrackLanguage(min_confidence=1.5)


def test_language_names() -> None:
    assert [language_name(code) for code in ("es", "ja", "pt")] == [
        "Spanish",
        "Japanese",
        "Portuguese",
    ]
