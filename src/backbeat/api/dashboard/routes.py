"""`/dashboard`: the operators' live view, for the holder of the admin token.

- `GET /dashboard/login` a form; `POST /dashboard/login` checks the token (constant time) and
  sets the dashboard cookie (see `access`), or answers 401 without one;
- `GET /dashboard` the page (to the login form without the cookie);
- `GET /dashboard/data` what the page shows, as JSON: the cookie or `Authorization: Bearer
  <admin token>`, else 401;
- `POST /dashboard/logout` drops the cookie.

Without an admin token configured, every route answers 403. Kept out of the OpenAPI schema: a
page for people, not an API.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Security
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from backbeat.api.auth import ServicesDep, admin_token
from backbeat.api.dashboard.access import COOKIE, DISABLED, MAX_AGE, AdminAccess
from backbeat.api.dashboard.display import fields
from backbeat.api.dashboard.history import BudgetHistory
from backbeat.api.dashboard.page import csp, dashboard_page, login_page, notice_page
from backbeat.api.dashboard.state import dashboard_data
from backbeat.api.deps import InboundDep, JobRuntimeDep
from backbeat.errors import NotAuthenticated

router = APIRouter(prefix="/dashboard", include_in_schema=False)
PATH = "/dashboard"


async def access_of(request: Request) -> AdminAccess:  # async: no thread-pool hop
    access: AdminAccess = request.app.state.dashboard.access
    return access


AccessDep = Annotated[AdminAccess, Depends(access_of)]


def _html(body: str, nonce: str, status: int = 200) -> HTMLResponse:
    headers = {
        "Content-Security-Policy": csp(nonce),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(body, status_code=status, headers=headers)


def _disabled() -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    return _html(notice_page(nonce, DISABLED), nonce, 403)


async def _data(request: Request, found: ServicesDep, runtime: JobRuntimeDep) -> dict[str, Any]:
    history: BudgetHistory = request.app.state.dashboard.history
    data = await dashboard_data(found, runtime, history.series())
    data["display"] = fields(data)
    return data


@router.get("/login", response_model=None)
async def login_form(request: Request, access: AccessDep) -> Response:
    if not access.enabled:
        return _disabled()
    if access.admits(request.cookies.get(COOKIE)):
        return RedirectResponse(PATH, status_code=303)
    nonce = secrets.token_urlsafe(16)
    return _html(login_page(nonce), nonce)


@router.post("/login", response_model=None)
async def log_in(
    request: Request,
    access: AccessDep,
    inbound: InboundDep,
    token: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    if not access.enabled:
        return _disabled()
    # Guessing the token takes many tries: a few per client address (429 beyond them).
    await inbound.check("admin_login", request.client.host if request.client else "unknown")
    if not access.token_matches(token):
        nonce = secrets.token_urlsafe(16)
        return _html(login_page(nonce, error="That is not the admin token."), nonce, 401)
    response = RedirectResponse(PATH, status_code=303)
    response.set_cookie(
        COOKIE,
        access.issue(),
        max_age=MAX_AGE,
        path=PATH,
        secure=access.secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout", response_model=None)
async def log_out(access: AccessDep) -> Response:
    response = RedirectResponse(f"{PATH}/login", status_code=303)
    response.delete_cookie(
        COOKIE, path=PATH, secure=access.secure, httponly=True, samesite="strict"
    )
    return response


@router.get("", response_model=None)
async def page(
    request: Request, access: AccessDep, found: ServicesDep, runtime: JobRuntimeDep
) -> Response:
    if not access.enabled:
        return _disabled()
    if not access.admits(request.cookies.get(COOKIE)):
        return RedirectResponse(f"{PATH}/login", status_code=303)
    nonce = secrets.token_urlsafe(16)
    return _html(dashboard_page(nonce, await _data(request, found, runtime)), nonce)


async def require_dashboard_admin(
    request: Request,
    access: AccessDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(admin_token)],
) -> None:
    if not access.enabled:
        raise HTTPException(403, DISABLED)
    if bearer is not None and access.token_matches(bearer.credentials):
        return
    if not access.admits(request.cookies.get(COOKIE)):
        raise NotAuthenticated("sign in at /dashboard/login, or send the admin token as a bearer")


@router.get("/data", dependencies=[Depends(require_dashboard_admin)])
async def data(
    request: Request, response: Response, found: ServicesDep, runtime: JobRuntimeDep
) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    return await _data(request, found, runtime)
