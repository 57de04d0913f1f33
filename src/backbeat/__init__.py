"""backbeat: a backend for multi-user apps on the Spotify Web API, sharing one upstream budget."""

__version__ = "0.1.0"
