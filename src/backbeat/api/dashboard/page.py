"""The dashboard's HTML: rendered here with every number in place (`display.fields`), then kept
live by `script.js`, which polls `/dashboard/data` every two seconds, rewrites the numbers, ticks
the pause and ban countdowns and draws the budget charts as SVG. No build step, no CDN: one
stylesheet and one script, read from this package and inlined under a per-response CSP nonce."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

from backbeat.api.dashboard.display import fields, state_of

PRIORITIES = ("HIGH", "NORMAL", "LOW")
REASONS = ("rate", "ban", "quota")
WINDOW_FIELDS = ("used", "effective_limit", "limit")

Value = Callable[..., str]  # a field's <span>, by field name (and CSS class)


@cache
def asset(name: str) -> str:
    return files("backbeat.api.dashboard").joinpath(name).read_text(encoding="utf-8")


def csp(nonce: str) -> str:
    return (
        "default-src 'none'; connect-src 'self'; img-src 'self' data:; form-action 'self'; "
        f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def _document(title: str, body: str, nonce: str, *, script: bool = False) -> str:
    code = f'<script nonce="{nonce}">{asset("script.js")}</script>' if script else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<style nonce="{nonce}">{asset("style.css")}</style></head>'
        f"{body}{code}</html>"
    )


def login_page(nonce: str, *, error: str | None = None) -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        '<body class="login"><main class="card narrow"><h1>backbeat</h1>'
        "<p>The dashboard is for operators: sign in with the admin token.</p>"
        f"{message}"
        '<form method="post" action="/dashboard/login">'
        '<label for="token">Admin token</label>'
        '<input id="token" name="token" type="password" autocomplete="off" required autofocus>'
        '<button type="submit">Sign in</button></form></main></body>'
    )
    return _document("backbeat · sign in", body, nonce)


def notice_page(nonce: str, message: str) -> str:
    body = (
        '<body class="login"><main class="card narrow"><h1>backbeat</h1>'
        f"<p>{escape(message)}</p></main></body>"
    )
    return _document("backbeat · dashboard", body, nonce)


def dashboard_page(nonce: str, data: Mapping[str, Any]) -> str:
    shown = fields(data)

    def value(key: str, css: str = "num") -> str:
        return f'<span class="{css}" data-field="{escape(key)}">{escape(shown.get(key, ""))}</span>'

    jobs = "".join(
        f'<div class="kv"><span>{escape(status)}</span>{value(f"jobs|{status}")}</div>'
        for status in data["jobs"]
    )
    queues = "".join(
        f"<tr><td>{escape(name)}</td><td>{value(f'queue|{name}')}</td>"
        f"<td>{value(f'scheduled|{name}')}</td></tr>"
        for name in data["queues"]
    )
    http_429 = "".join(_429_row(app["app"], value) for app in data["apps"])
    apps = "".join(_app_card(app, value) for app in data["apps"])
    failed = "".join(_failed_row(job) for job in data["failed_jobs"])
    body = f"""<body data-updated="{data["now"]!r}">
<header><h1>backbeat <small>dashboard</small></h1>
<span class="muted">updated <span id="updated">{escape(_clock(data["now"]))}</span></span>
<form method="post" action="/dashboard/logout"><button type="submit">Sign out</button></form>
</header>
<section class="tiles">
<div class="card"><h2>Jobs <small>{value("jobs|total", "muted")} in all</small></h2>
<div class="grid3">{jobs}</div></div>
<div class="card"><h2>Queues <small>{value("queue|total", "muted")} ready</small></h2>
<table><thead><tr><th>queue</th><th>ready</th><th>later</th></tr></thead>
<tbody>{queues}</tbody></table></div>
<div class="card"><h2>Cache</h2><div class="big">{value("cache|hit_rate", "num big")}</div>
<div class="kv"><span>hits</span>{value("cache|hits")}</div>
<div class="kv"><span>misses</span>{value("cache|misses")}</div></div>
<div class="card"><h2>429s <small>{value("http_429|total", "muted")} in all</small></h2>
<table><thead><tr><th>app</th>{"".join(f"<th>{r}</th>" for r in REASONS)}</tr></thead>
<tbody>{http_429}</tbody></table></div>
</section>
<section class="apps">{apps}</section>
<section class="card"><h2>Recent failed jobs <small>last 24 h, newest first, UTC</small></h2>
<table class="failed"><thead><tr><th>finished</th><th>kind</th><th>user</th><th>attempts</th>
<th>error</th></tr></thead><tbody id="failed">{failed or _no_failures()}</tbody></table></section>
</body>"""
    return _document("backbeat · dashboard", body, nonce, script=True)


def _429_row(app: str, value: Value) -> str:
    cells = "".join(f"<td>{value(f'app|{app}|429|{reason}')}</td>" for reason in REASONS)
    return f"<tr><td>{escape(app)}</td>{cells}</tr>"


def _window_row(prefix: str, window: Mapping[str, Any], value: Value) -> str:
    key = f"{prefix}|window|{window['key']}"
    cells = "".join(f"<td>{value(f'{key}|{name}')}</td>" for name in WINDOW_FIELDS)
    period = f"<td>{window['period']:g} s</td>"
    return f"<tr><td><code>{escape(window['key'])}</code></td>{cells}{period}</tr>"


def _app_card(app: Mapping[str, Any], value: Value) -> str:
    name = app["app"]
    prefix = f"app|{name}"
    rows = "".join(_window_row(prefix, window, value) for window in app["windows"])
    waiters = "".join(
        f'<div class="kv"><span>{p.lower()}</span>{value(f"{prefix}|waiters|{p}")}</div>'
        for p in PRIORITIES
    )
    return f"""<article class="card app" data-app="{escape(name)}">
<h2>{escape(name)} {value(f"{prefix}|state", f"badge {state_of(app).split()[0]}")}</h2>
<div class="row">
<div class="kv"><span>pause</span>{value(f"{prefix}|pause", "num countdown")}</div>
<div class="kv"><span>ban</span>{value(f"{prefix}|ban", "num countdown")}</div>
<div class="kv"><span>ceiling ×</span>{value(f"{prefix}|multiplier")}</div>
<div class="kv"><span>429 at ×</span>{value(f"{prefix}|last_429")}</div>
<div class="kv"><span>in flight</span>{value(f"{prefix}|in_flight")}</div>
<div class="kv"><span>grants</span>{value(f"{prefix}|grants")}</div>
</div>
<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 600 170" role="img"
 aria-label="calls in each window against its limit, last five minutes"></svg>
<div class="legend" data-legend="{escape(name)}"></div>
<div class="row"><strong>waiting</strong>{waiters}</div>
<table><thead><tr><th>window</th><th>used</th><th>limit now</th><th>limit</th><th>period</th></tr>
</thead><tbody>{rows}</tbody></table>
</article>"""


def _failed_row(job: Mapping[str, Any]) -> str:
    cells = (
        _clock_iso(job["finished_at"]),
        job["kind"],
        job["user_id"] or "–",
        str(job["attempts"]),
        job["error"],
    )
    return "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in cells) + "</tr>"


def _no_failures() -> str:
    return '<tr><td colspan="5" class="muted">none</td></tr>'


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def _clock_iso(text: str | None) -> str:
    return f"{text[5:10]} {text[11:19]}" if text else "–"  # MM-DD HH:MM:SS (UTC)
