"""The ReccoBeats client: recommendations and audio features for Spotify ids, no key needed."""
