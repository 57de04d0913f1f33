"""`backbeat demo`: the whole system on one machine with nothing but backbeat installed — the
simulator as Spotify, the API with its embedded job consumers, N simulated users whose daily
scans run at a time scale, and interactive searches measured meanwhile."""

from backbeat.demo.run import DemoReport, DemoSystem, demo_settings

__all__ = ["DemoReport", "DemoSystem", "demo_settings"]
