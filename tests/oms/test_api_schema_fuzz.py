"""The OpenAPI schema tells the truth about the API (issue 6, point 6): schemathesis generates requests from
``/api/schema/`` for every operation and sends them to the real server (uvicorn on the test database).

It fails on any 5xx, a status code or header the schema does not declare, a body that does not match its
declared schema, a schema-valid request refused, or a schema-invalid one accepted. Examples are bounded
per operation (``MAX_EXAMPLES``) and derandomized, so the run is the same every time.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
import schemathesis.engine
from django.db import connection
from rest_framework.authtoken.models import Token
from schemathesis.engine import Status, events

from tests.servers import database_url, run_server

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 12

# Refusals a JSON schema cannot express, allowed on top of schemathesis' defaults for schema-valid data
# (2xx, 3xx, 401, 403, 404, 409, 429):
# - auth_token_create: a well-formed username and password that match no user (the schema promises the
#   shape of credentials, not that they exist), 400 auth.invalid_credentials;
# - orders_create: the order's references and cross-field rules (an unknown portfolio or instrument, the
#   lot and tick size of that instrument, a limit price on a market order, end before start): 400
#   validation_error naming the field; and pre-trade risk, 422 risk.*.
#   The bulk answers these per item inside its 207.
# - orders_replace_create: the same rules against the order (its lot, tick and type, neither field sent),
#   its state and its parent (409 order.*), pre-trade risk (422 risk.*).
# - rfqs_create: the request's cross-field rules (side vs direction, auto mode needs a threshold, the
#   window's range) and the parent's state (quantity available, parent working): 400 / 404 / 409 with codes;
#   a package's legs (their instruments, ratios, expiries: 400 rfq.leg_*) and each leg's intake (a
#   portfolio the user may not trade, 403; pre-trade risk, 422 risk.*).
# - tca_summary_retrieve, tca_best_execution_retrieve, tca_fills_list: an instrument or portfolio filter that
#   names nothing that exists (the schema promises a well-formed symbol or code, not that it exists): 400
#   tca.bad_filter naming the parameter.
# - tca_executions_import_create: the CSV's content (its header, each row's values, its size in rows) is
#   checked line by line: 400 tca.import_* (nothing stored), 413 tca.import_too_large.
CONFIG = """
seed = 20261125

[generation]
max-examples = {max_examples}
deterministic = true
mode = "all"

[headers]
Authorization = "Token {token}"

[phases.examples]
enabled = true
[phases.coverage]
enabled = true
[phases.fuzzing]
enabled = true
[phases.stateful]
enabled = false

[checks]
enabled = true
use_after_free.enabled = false
ensure_resource_availability.enabled = false
object_level_authorization.enabled = false

[[operations]]
include-operation-id = "auth_token_create"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "429"]

[[operations]]
include-operation-id = "orders_create"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "409", "422", "429"]

[[operations]]
include-operation-id = "rfqs_create"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "409", "422", "429"]

[[operations]]
include-operation-id = "tca_summary_retrieve"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "429"]

[[operations]]
include-operation-id = "tca_best_execution_retrieve"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "429"]

[[operations]]
include-operation-id = "tca_fills_list"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "429"]

[[operations]]
include-operation-id = "tca_executions_import_create"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "413", "429"]

[[operations]]
include-operation-id = "orders_replace_create"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "403", "404", "409", "422", "429"]

# A bulk answers every item, valid or not, in its 207 (one bad item must not fail 4,999 good ones):
# a schema-invalid item is refused in its own row, not by a 4xx for the request.
[[operations]]
include-operation-id = "orders_bulk_create"
checks.negative_data_rejection.enabled = false
"""


@pytest.fixture
def live_api(pm, portfolio, instrument, submit):
    """(base URL, token) of a running server, for a PM who can see a portfolio, an instrument and an order."""
    submit(pm)
    token = Token.objects.create(user=pm).key
    connection.close()  # the server is the only one using the database meanwhile
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        # Counters of its own, and rates that leave the fuzzing unthrottled (429 is declared; it would
        # only hide the operations behind it).
        "CACHE_KEY_PREFIX": f"fuzz-{uuid.uuid4().hex}",
        "API_THROTTLE_ANON": "100000/min", "API_THROTTLE_USER": "100000/s", "API_THROTTLE_AUTH_TOKEN": "100000/min",
        "SIGNIN_FAILURE_LIMIT": "100000",
    }
    with run_server(env) as (url, _log):
        yield url, token


def _run(schema) -> tuple[list[str], set[str]]:
    """Run every phase over every operation, as ``schemathesis run`` does: (failures, operations tested)."""
    failures, tested = [], set()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error {event.value!r}")
        elif isinstance(event, events.ScenarioFinished) and event.label:
            if event.status != Status.SKIP:
                tested.add(event.label)
            for case_id, checks in event.recorder.checks.items():
                interaction = event.recorder.interactions.get(case_id)
                request = f"{interaction.request.method} {interaction.request.uri}" if interaction else "?"
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(f"{event.label} [{check.name}] {failure.title}: {failure.message} -- {request}")
    return sorted(set(failures)), tested


def test_every_operation_answers_as_its_schema_says(live_api):
    url, token = live_api
    config = schemathesis.Config.from_str(CONFIG.format(max_examples=MAX_EXAMPLES, token=token))
    schema = schemathesis.openapi.from_url(f"{url}/api/schema/", config=config, timeout=30)
    operations = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}

    failures, tested = _run(schema)

    assert not failures, "\n".join(failures)
    assert len(operations) >= 12 and operations <= tested, operations - tested
