"""The upstream call path shared by the Spotify and ReccoBeats clients: response cache, in-flight
dedup and ID registry, each in this process (`memory://`) or shared by every process (Redis)."""
