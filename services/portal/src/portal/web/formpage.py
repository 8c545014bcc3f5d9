"""Showing a form and sending it to a service: the API's 422 problems go back onto the fields."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from portal.api import ApiClient, ApiError
from portal.forms import FieldError, FormSpec, FormState, form_values, map_errors, to_body
from portal.web.deps import PageError, User, checked_form, flash, render

_UUID_LEN = 36


def show(
    request: Request,
    spec: FormSpec,
    *,
    action: str,
    back: str,
    state: FormState | None = None,
    idempotency_key: str | None = None,
    status: int = 200,
    intro: str | None = None,
    template: str = "form.html",
    extra: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        template,
        {
            "spec": spec,
            "action": action,
            "back": back,
            "state": state or FormState(),
            "idempotency_key": idempotency_key or str(uuid.uuid4()),
            "intro": intro,
            **(extra or {}),
        },
        status=status,
    )


async def submit(
    request: Request,
    api: ApiClient,
    user: User,
    spec: FormSpec,
    *,
    service: str,
    path: str,
    action: str,
    back: str,
    done: Callable[[Any], str],
    message: Callable[[Any], str],
    intro: str | None = None,
    template: str = "form.html",
    extra: dict[str, Any] | None = None,
    conflict: str = "This cannot be done now",
) -> Response:
    """POST the form's body to the service; on success flash ``message`` and go to ``done``.

    The form carries an idempotency key made when it was first shown and kept while the user
    corrects it, so a double click or a resubmission after a lost answer does not send twice.
    A 409 (the record's state does not allow it, e.g. an illegal transition of a case) is shown in
    the error summary as ``conflict`` followed by the service's reason, with the status 409.
    """
    form = await checked_form(request)
    lists = {key: [str(v) for v in form.getlist(key)] for key in form}
    values = form_values(spec, {k: str(v) for k, v in form.items()}, lists)
    key = str(form.get("idempotency_key") or "")
    try:
        uuid.UUID(key)
    except ValueError:
        key = str(uuid.uuid4())
    body = to_body(spec, values)
    try:
        result = await api.post(service, path, user.token, body, idempotency_key=key)
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise PageError(exc.status, exc.detail) from None
        if exc.status == 409 and exc.slug == "idempotency-key-in-progress":
            raise PageError(
                409, "Your form is still being sent. Wait a moment, then check the list."
            ) from None
        errors = map_errors(spec, exc.errors) if exc.errors else []
        if exc.status == 409 and not errors:
            reason = exc.detail or exc.title or "the record has changed"
            if reason[1:2].islower():  # "The case ..." reads on after the colon; "EHE ..." stays
                reason = reason[:1].lower() + reason[1:]
            errors = [FieldError(None, "", f"{conflict}: {reason}".rstrip(".") + ".")]
        if exc.status == 422 and exc.slug == "idempotency-key-reused":
            key = str(uuid.uuid4())  # the form changed after an earlier attempt was stored
            errors = [FieldError(None, "", "Check the form and send it again.")]
        if not errors:
            errors = [FieldError(None, "", exc.detail or exc.title or "The form could not be sent.")]
        state = FormState(values=values, errors=errors)
        return show(
            request,
            spec,
            action=action,
            back=back,
            state=state,
            idempotency_key=key,
            status=422 if exc.status in (400, 422) else exc.status,
            intro=intro,
            template=template,
            extra=extra,
        )
    flash(request, message(result))
    return RedirectResponse(done(result), status_code=303)
