"""The `backbeat` command line."""
