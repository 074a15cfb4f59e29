"""Bound every request body before anything reads it: a pure ASGI middleware around Django's HTTP app.

The ASGI server (uvicorn, ``config.server``) hands the body over as it arrives and parses none of it; Django's
``ASGIHandler`` would read all of it (spooling to disk) before ``DATA_UPLOAD_MAX_MEMORY_SIZE`` or a view applies,
and its multipart parser would then walk every part. This middleware answers first, with the API's JSON error
body (``{"code", "detail"}``) on every path:

- 413 ``request_too_large``: a ``Content-Length`` over the limit (refused before a byte of the body is read), or
  a body sent without one (chunked) that grows past it (reading stops there);
- 400 ``malformed_multipart``: a multipart content type without a usable boundary;
- 400 ``too_many_parts``: a multipart body with more than ``MULTIPART_MAX_PARTS`` parts, counted by their
  boundaries as the bytes stream past (nothing is parsed).

The limit is ``DATA_UPLOAD_MAX_MEMORY_SIZE``, and ``UPLOAD_MAX_BYTES`` for a multipart upload to one of
``UPLOAD_PATHS`` (the TCA import). Django's own checks still apply behind it.
"""

from __future__ import annotations

import json
import re

from django.conf import settings

from oms.error_codes import ApiErrorCode

# Django's MultiPartParser accepts this boundary and no other (and RFC 2046 allows 70 characters of a subset).
_BOUNDARY_RE = re.compile(rb"[ -~]{0,200}[!-~]")
_BOUNDARY_PARAM_RE = re.compile(rb';\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)


def multipart_boundary(content_type: bytes) -> bytes | None:
    """The boundary of a multipart content type, or None when it has none Django could use."""
    match = _BOUNDARY_PARAM_RE.search(content_type)
    if match is None:
        return None
    boundary = match.group(1) if match.group(1) is not None else match.group(2)
    return boundary if boundary and _BOUNDARY_RE.fullmatch(boundary) else None


def body_limit(path: str, multipart: bool) -> int:
    if multipart and path in settings.UPLOAD_PATHS:
        return settings.UPLOAD_MAX_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class BodyGuard:
    """Counts the bytes (and, for multipart, the boundary delimiters) of a body as its chunks arrive; ``refusal``
    is set, once, to (status, code, detail) when the body breaks a bound."""

    def __init__(self, limit: int, boundary: bytes | None, max_parts: int):
        self.limit, self.max_parts = limit, max_parts
        self.delimiter = b"--" + boundary if boundary else None
        self.received = 0
        self.delimiters = 0
        self.tail = b""  # the end of the last chunk, so that a delimiter split across two chunks is counted once
        self.refusal: tuple[int, str, str] | None = None

    def feed(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.limit:
            self.refusal = too_large(self.limit)
            return
        if self.delimiter is not None and chunk:
            window = self.tail + chunk
            self.delimiters += window.count(self.delimiter)
            self.tail = window[-(len(self.delimiter) - 1):]
            # n parts have n + 1 delimiters (the last closes the body)
            if self.delimiters - 1 > self.max_parts:
                self.refusal = (400, ApiErrorCode.TOO_MANY_PARTS, f"A multipart body may have at most {self.max_parts:,} parts")


def too_large(limit: int) -> tuple[int, str, str]:
    return 413, ApiErrorCode.REQUEST_TOO_LARGE, f"The request body is larger than {limit:,} bytes"


async def refuse(send, status: int, code: str, detail: str, *, close: bool = False) -> None:
    body = json.dumps({"code": str(code), "detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of an unbounded body is not worth reading: the server drops the connection
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class BodyLimits:
    """ASGI middleware: refuse an over-large or ill-shaped body before the wrapped app reads it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])  # lower-case names (ASGI); a repeated header: the last one
        content_type = headers.get(b"content-type", b"")
        multipart = content_type[:10].lower() == b"multipart/"
        limit = body_limit(scope["path"], multipart)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await refuse(send, *too_large(limit))
        boundary = None
        if multipart:
            boundary = multipart_boundary(content_type)
            if boundary is None:
                return await refuse(send, 400, ApiErrorCode.MALFORMED_MULTIPART,
                                    "A multipart body needs a boundary parameter in its Content-Type")
        guard = BodyGuard(limit, boundary, settings.MULTIPART_MAX_PARTS)
        started = False

        async def guarded_receive():
            if guard.refusal is None:
                message = await receive()
                if message["type"] != "http.request":
                    return message
                guard.feed(message.get("body", b""))
                if guard.refusal is None:
                    return message
            # Django stops reading (RequestAborted) and answers nothing; the refusal is sent below.
            return {"type": "http.disconnect"}

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, guarded_receive, tracking_send)
        if guard.refusal is not None and not started:
            await refuse(send, *guard.refusal, close=length is None)
