"""Skills with levels and widening tiers on real calls, configured through the API of a running box.

Queue 720 needs skill `he` at level 8 or more, widening to level 3 after 4 s of waiting. Its members,
in (linear) order: 103 (he=4), 104 (no `he`, billing=9), 102 (he=9). The skills are stored through
`PUT /api/v1/agents/{ext}/skills` and the queue is created with `POST /api/v1/queues`, so the test
goes through the storage path and the live reload, not a preseeded database.

1. All three free: the caller goes to 102, although 103 comes first in member order.
2. 102 talks; a second caller waits. 103 is the only qualified agent free, and is offered the call
   only once the caller has waited the widening time, never before. 104 is never offered a call.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.acd.test_click_to_call import trust, web
from tests.integration.acd.test_queue_calls import events, last_id, login, wait_event
from tests.support.appliance import Appliance, make_appliance
from tests.support.phone import Phone

QUEUE = "720"
WIDEN_S = 4.0
ADMIN_PASSWORD = "skills admin password 1"
SKILLS = {"102": {"he": 9}, "103": {"he": 4}, "104": {"billing": 9}}


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """The demo box (extensions 101-105) with 2 workers; queue 720 is made through the API."""
    data_dir = tmp_path_factory.mktemp("skills") / "data"
    data_dir.mkdir()
    app = make_appliance(data_dir, workers=2)
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def admin(box: Appliance) -> Iterator[httpx.Client]:
    """The first admin, set up through the API."""
    with httpx.Client(base_url=f"https://127.0.0.1:{box.web_port}", verify=trust(box), timeout=10) as first:
        r = first.post("/api/v1/setup", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 201, r.text
    client = web(box, "admin", ADMIN_PASSWORD)
    try:
        yield client
    finally:
        client.close()


def offers(story: list[dict[str, object]]) -> list[tuple[float, list[str]]]:
    """(mono, agents) of every CallOffered in a story."""
    out = []
    for e in story:
        if e["type"] == "CallOffered":
            data = e["data"]
            assert isinstance(data, dict)
            out.append((float(e["mono"]), list(data["agent_ids"])))  # type: ignore[arg-type]
    return out


def test_expert_first_then_the_widened_tier_and_never_an_agent_without_the_skill(
    box: Appliance, admin: httpx.Client
) -> None:
    for ext, skills in SKILLS.items():
        r = admin.put(f"/api/v1/agents/{ext}/skills", json={"skills": skills})
        assert r.status_code == 200 and r.json()["skills"] == skills, r.text
    r = admin.post("/api/v1/queues", json={
        "number": QUEUE, "name": "Hebrew line", "members": ["103", "104", "102"], "strategy": "linear",
        "wrap_up_s": 1, "ring_timeout_s": 15, "skills": ["he"],
        "tiers": [{"after_s": 0, "min_level": 8}, {"after_s": WIDEN_S, "min_level": 3}],
    })
    assert r.status_code == 201, r.text
    with Phone() as a102, Phone() as a103, Phone() as a104, Phone() as caller:
        for ext, phone in (("102", a102), ("103", a103), ("104", a104)):
            assert phone.register(ext, box.passwords[ext], registrar=box.sip) == 200
            login(box, phone, ext)
            phone.auto_answer(True)
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        since = last_id(box)

        first = caller.call(f"sip:{QUEUE}@{box.sip}", user="101")
        (answer,) = wait_event(box, since, "CallAnswered")
        assert answer["agent_id"] == "102", "the expert gets the caller while free, whatever the member order"
        second = caller.call(f"sip:{QUEUE}@{box.sip}", user="101")
        answers = wait_event(box, since, "CallAnswered", n=2, timeout=30)
        assert answers[1]["agent_id"] == "103"
        for call in (first, second):
            caller.hangup(call)
            caller.wait(call, "disconnected", timeout=10)
        wait_event(box, since, "CallEnded", n=2)

    story = events(box, "id > ? AND (queue_id = ? OR agent_id != '')", (since, QUEUE))
    joins = [e for e in story if e["type"] == "CallerJoined"]
    assert len(joins) == 2 and all(j["data"]["skills"] == ["he"] for j in joins)
    made = offers(story)
    assert [agents for _, agents in made] == [["102"], ["103"]], made
    waited = made[1][0] - float(joins[1]["mono"])
    assert waited >= WIDEN_S, f"103 (he=4) was offered the call after {waited:.2f} s, before the widening"
    assert not [e for e in story if e["type"] == "AgentReserved" and e["agent_id"] == "104"]
    print(f"widening: offered to 103 {waited - WIDEN_S:.3f} s after the tier opened")


def test_a_waiting_caller_keeps_the_call_through_an_edit_and_a_busy_queue_is_not_deleted(
    box: Appliance, admin: httpx.Client
) -> None:
    """Queue 721 needs `fr`, which its only member 105 lacks: the caller waits. Deleting the queue is
    refused while they wait; an edit that drops the requirement connects the same call to 105 at once;
    once idle the queue is deleted and its number no longer reaches a queue."""
    body = {"name": "French line", "members": ["105"], "wrap_up_s": 1, "skills": ["fr"]}
    r = admin.post("/api/v1/queues", json={**body, "number": "721"})
    assert r.status_code == 201, r.text
    with Phone() as a105, Phone() as caller:
        assert a105.register("105", box.passwords["105"], registrar=box.sip) == 200
        login(box, a105, "105")
        a105.auto_answer(True)
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        since = last_id(box)
        call = caller.call(f"sip:721@{box.sip}", user="101")
        (joined,) = wait_event(box, since, "CallerJoined")
        r = admin.delete("/api/v1/queues/721")
        assert r.status_code == 409 and r.json()["error_id"] == "queue_busy", r.text
        assert not events(box, "id > ? AND type = 'CallOffered'", (since,)), "nobody has fr: no offer"
        r = admin.put("/api/v1/queues/721", json={**body, "skills": []})
        assert r.status_code == 200, r.text
        (answer,) = wait_event(box, since, "CallAnswered")
        assert answer["call_id"] == joined["call_id"] and answer["agent_id"] == "105"
        assert caller.state(call) == "confirmed"
        assert len(events(box, "id > ? AND type = 'CallerJoined'", (since,))) == 1  # the same place, not a re-join
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
        wait_event(box, since, "CallEnded")
        r = admin.delete("/api/v1/queues/721")
        assert r.status_code == 204, r.text
        after = last_id(box)
        gone = caller.call(f"sip:721@{box.sip}", user="101")
        caller.wait(gone, "disconnected", timeout=15)
        assert caller.last_status(gone) >= 400
        assert not events(box, "id > ? AND queue_id = '721'", (after,))
