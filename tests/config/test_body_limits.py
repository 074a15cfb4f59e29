"""No request body freezes the server (issue 20, item 1): on the real ASGI server (uvicorn, config.server) every
body is bounded in size and shape by config.body_limits before Django reads it, and each refusal is the API's
JSON error with a code. While each hostile POST is in flight (unauthenticated, to a page and to the upload
path), a second client's GET /login/ answers (the timeout is only how long the test waits)."""

from __future__ import annotations

import httpx
import pytest
from django.conf import settings
from django.db import connection

from oms.error_codes import ApiErrorCode, AuthErrorCode
from tests.hostile_bodies import BOUNDARY, hostile_post, many_parts, one_big_part
from tests.servers import database_url, run_server

pytestmark = pytest.mark.django_db(transaction=True)

PAGE_WAIT_S = 5  # how long the test waits for the second client's page: a timeout, not a measurement
UPLOAD = "/api/tca/executions/import/"


@pytest.fixture(scope="module")
def server(django_db_setup):
    env = {"DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": settings.REDIS_URL, "DB_POOL_MIN_SIZE": "0"}
    with run_server(env) as (url, _log):
        yield url


def _page_answers(url):
    """The second client: GET /login/ must answer while the hostile request is in flight."""
    answered = []

    def meanwhile():
        answered.append(httpx.get(f"{url}/login/", timeout=PAGE_WAIT_S).status_code)

    return answered, meanwhile


@pytest.mark.parametrize("path", ["/login/", UPLOAD])
def test_200000_tiny_parts_are_refused_and_pages_keep_answering(server, path):
    answered, meanwhile = _page_answers(server)
    body = many_parts(200_000)
    assert len(body) > 11 * 1024 * 1024

    status, error = hostile_post(server, path, body, meanwhile=meanwhile)

    assert answered == [200]
    if path == UPLOAD:  # under the upload path's 20 MB: refused by its count of parts, as the bytes arrive
        assert (status, error["code"]) == (400, ApiErrorCode.TOO_MANY_PARTS)
    else:  # over 10 MiB: refused on its Content-Length, before a byte of it is read
        assert (status, error["code"]) == (413, ApiErrorCode.REQUEST_TOO_LARGE)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_60_mb_part_is_refused_and_pages_keep_answering(server, chunked):
    answered, meanwhile = _page_answers(server)

    status, error = hostile_post(server, UPLOAD, one_big_part(60 * 1024 * 1024), chunked=chunked, meanwhile=meanwhile)

    assert answered == [200]
    assert (status, error["code"]) == (413, ApiErrorCode.REQUEST_TOO_LARGE)


def test_a_chunked_body_of_too_many_parts_is_refused(server):
    status, error = hostile_post(server, "/login/", many_parts(5_000), chunked=True)
    assert (status, error["code"]) == (400, ApiErrorCode.TOO_MANY_PARTS)


@pytest.mark.parametrize("content_type", [
    "multipart/form-data",  # no boundary at all
    "multipart/form-data; boundary=",  # an empty one
    "multipart/form-data; boundary=" + "b" * 300,  # longer than any parser takes
], ids=["none", "empty", "too-long"])
@pytest.mark.parametrize("path", ["/login/", UPLOAD, "/api/orders/"])
def test_a_multipart_body_without_a_usable_boundary_is_a_json_400(server, path, content_type):
    status, error = hostile_post(server, path, b"--x\r\n\r\nx\r\n--x--\r\n", content_type=content_type)
    assert (status, error["code"]) == (400, ApiErrorCode.MALFORMED_MULTIPART)


def test_a_well_formed_multipart_body_within_bounds_reaches_django(server):
    """1,000 parts on the upload path pass the server's bounds: Django answers (here: sign in first)."""
    status, error = hostile_post(server, UPLOAD, many_parts(1_000))
    assert (status, error["code"]) == (401, AuthErrorCode.NOT_AUTHENTICATED)


def test_a_body_over_the_limit_on_a_json_path_is_refused_before_it_is_read(server):
    body = b'{"x": "' + b"a" * (11 * 1024 * 1024) + b'"}'
    status, error = hostile_post(server, "/api/orders/", body, content_type="application/json")
    assert (status, error["code"]) == (413, ApiErrorCode.REQUEST_TOO_LARGE)


def test_the_boundary_is_counted_across_chunk_edges():
    """A delimiter split between two chunks is counted once (the guard keeps the tail of the last chunk)."""
    from config.body_limits import BodyGuard

    body = many_parts(50)
    for cut in range(1, 40):
        guard = BodyGuard(len(body), BOUNDARY.encode(), max_parts=49)
        for i in range(0, len(body), cut):
            guard.feed(body[i:i + cut])
        assert guard.refusal is not None and guard.refusal[1] == ApiErrorCode.TOO_MANY_PARTS, cut
        within = BodyGuard(len(body), BOUNDARY.encode(), max_parts=50)
        for i in range(0, len(body), cut):
            within.feed(body[i:i + cut])
        assert within.refusal is None, cut
