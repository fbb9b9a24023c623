"""A DID may give its queue callers a priority (a VIP line); anything else after ';' is refused."""

from __future__ import annotations

import pytest

from appliance.controller.ivr import DidTarget, IvrError


def test_a_queue_did_carries_a_priority() -> None:
    assert DidTarget.parse("queue:700;priority=5") == DidTarget("queue", "700", 5)
    assert DidTarget.parse("queue:700") == DidTarget("queue", "700", 0)


@pytest.mark.parametrize("text", ["ivr:800;priority=5", "queue:700;priority=high", "queue:700;vip=1",
                                  "queue:700;priority=101", "queue:700;priority=-1"])
def test_other_options_are_refused(text: str) -> None:
    with pytest.raises(IvrError, match="bad DID option"):
        DidTarget.parse(text)
