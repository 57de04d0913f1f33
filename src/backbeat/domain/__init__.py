"""The apps' features, on the upstream clients, the data and the jobs: accounts, listening,
insights, ranking, organizer, recommendations (ARCHITECTURE §7)."""
