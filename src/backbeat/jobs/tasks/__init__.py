"""The apps' jobs: thin adapters from job rows to the domain's services, contributed to the
runtime as plugins (kinds and cron handlers) by every process that runs jobs."""

from backbeat.jobs.runtime import Plugin
from backbeat.jobs.tasks import accounts, insights, listening, organizer, ranking

BUILTIN_PLUGINS: list[Plugin] = [
    accounts.contribute,
    listening.contribute,
    insights.contribute,
    ranking.contribute,
    organizer.contribute,
]
