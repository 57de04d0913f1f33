"""A local Spotify Web API, accounts service and ReccoBeats, faithful enough for real clients.

It models Spotify, not backbeat: nothing here imports backbeat's client code.
"""

from backbeat.simulator.app import create_app
from backbeat.simulator.state import Simulator

__all__ = ["Simulator", "create_app"]
