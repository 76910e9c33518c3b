"""The time budget the server gives a request when it arrives (service.solving.time_budget)."""

from __future__ import annotations

from models import AllocationRequest
from service.settings import Settings
from service.solving import time_budget
from tests.builders import mineral, offer, request


def _asking(time_limit_s: float | None) -> AllocationRequest:
    body = request(1e6, [mineral(target=10)], [offer("a", 10, 100)]).model_dump(exclude_unset=True)
    body["options"] = {} if time_limit_s is None else {"time_limit_s": time_limit_s}
    return AllocationRequest.model_validate(body)


def test_a_request_gets_its_own_limit_clamped_or_the_servers_default_from_its_arrival():
    settings = Settings(default_time_limit_s=12.0, max_time_limit_s=60.0)
    assert time_budget(settings, _asking(5.0), arrival=100.0).limit_s == 5.0
    assert time_budget(settings, _asking(500.0), arrival=100.0).limit_s == 60.0  # clamped, not refused
    default = time_budget(settings, _asking(None), arrival=100.0)
    assert default.limit_s == 12.0  # it gave none: the server's default, not the model's
    assert default.began == 100.0 and default.deadline == 112.0
