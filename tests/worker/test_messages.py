"""Which messages a worker hands to Celery: each kind of bad one is refused with its reason."""

from __future__ import annotations

import base64
import json

import pytest

from functions.protocol import MessageBuilder, new_id
from functions.worker.messages import Invalid, check
from tests.support.bad_messages import EMBED, BadMessage, catalog
from tests.worker.conftest import echo_spec

MAX_BODY = 4096
KINDS = catalog(echo_spec, "spillway", MAX_BODY)


@pytest.mark.parametrize("bad", KINDS, ids=[k.kind for k in KINDS])
def test_each_kind_of_bad_message_is_refused_with_its_reason(bad: BadMessage) -> None:
    with pytest.raises(Invalid) as refused:
        check(bad.raw, MAX_BODY)
    assert refused.value.reason == bad.reason
    assert bad.says in refused.value.message, refused.value.message


def test_the_api_message_passes() -> None:
    message, eta = check(MessageBuilder(echo_spec, "spillway").build(new_id(), '{"a":1}'), MAX_BODY)
    assert message["headers"]["task"] == echo_spec.task_name and eta is None


def test_the_payload_may_come_as_the_one_keyword_argument() -> None:
    """Celery's `apply_async(kwargs={"payload": ...})` sends it that way."""
    message = json.loads(MessageBuilder(echo_spec, "spillway").build(new_id(), "{}"))
    body = [[], {"payload": {"a": 1}}, EMBED]
    message["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    check(json.dumps(message), MAX_BODY)
