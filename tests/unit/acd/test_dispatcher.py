"""The dispatcher: priority, skills tiers, max wait, max length, empty rules, abandon and ring-no-answer."""

from __future__ import annotations

import pytest

from appliance.acd.destination import Destination, DestinationKind
from appliance.acd.events import CallAbandoned, CallerJoined, CallOverflowed, CallTimedOut
from appliance.acd.queue import EmptyRule, Member, QueueConfig, Tier
from appliance.domain.errors import DomainError

from .helpers import build, offered

VOICEMAIL = Destination(DestinationKind.VOICEMAIL, "q")
OTHER = Destination(DestinationKind.QUEUE, "other")


def test_fifo_within_priority_and_priority_first() -> None:
    d, clock = build(QueueConfig("q"), ["a"])
    d.agent("a").pause("x")
    for call, prio in (("c1", 0), ("c2", 0), ("vip", 5), ("c3", 0), ("vip2", 5)):
        d.join("q", call, "1", priority=prio)
        clock.advance(1)
    assert [c.call_id for c in d.queue("q").waiting] == ["vip", "vip2", "c1", "c2", "c3"]
    assert d.queue("q").position("c1") == 3
    d.agent("a").unpause()
    order = []
    for _ in range(5):
        [offer] = d.step().offers
        order.append(offer.call_id)
        d.answered(offer.call_id, "a")
        d.hangup(offer.call_id)
    assert order == ["vip", "vip2", "c1", "c2", "c3"]


def test_join_reports_the_position() -> None:
    d, _ = build(QueueConfig("q"), ["a"], login=False)
    d.join("q", "c1", "1")
    [ev] = d.join("q", "c2", "2", priority=1).events
    assert isinstance(ev, CallerJoined) and ev.position == 1


def test_skill_tiers_widen_with_waiting_time() -> None:
    cfg = QueueConfig("q", skills=frozenset({"polish"}), tiers=(Tier(0, 7), Tier(30, 4), Tier(60, 1)))
    members = [Member("junior", skills={"polish": 2}), Member("mid", skills={"polish": 5}), Member("none")]
    d, clock = build(cfg, members)
    d.join("q", "c1", "1")
    assert d.step().offers == []
    assert d.next_deadline() == 30
    clock.advance(30)
    assert offered(d.step()) == [("c1", ("mid",))]
    d.no_answer("c1", "mid")
    d.agent("mid").pause("x")
    clock.advance(29)
    assert d.step().offers == []
    clock.advance(1)
    assert offered(d.step()) == [("c1", ("junior",))]


def test_a_caller_without_skills_skips_ahead_of_one_nobody_can_serve() -> None:
    cfg = QueueConfig("q", tiers=(Tier(0, 5),))
    d, _ = build(cfg, [Member("a", skills={"en": 9})])
    d.join("q", "needs-de", "1", skills={"de"})
    d.join("q", "any", "2", skills=())
    assert offered(d.step()) == [("any", ("a",))]


def test_max_wait_sends_the_caller_to_the_overflow() -> None:
    d, clock = build(QueueConfig("q", max_wait_s=60, on_timeout=VOICEMAIL), ["a"])
    d.agent("a").pause("x")
    d.join("q", "c1", "1")
    assert d.next_deadline() == 60
    clock.advance(59.9)
    assert d.step().events == []
    clock.advance(0.1)
    out = d.step()
    [ev] = out.events
    assert isinstance(ev, CallTimedOut) and ev.destination == VOICEMAIL and ev.wait_s == pytest.approx(60)
    assert [(r.call_id, r.destination, r.reason) for r in out.redirects] == [("c1", VOICEMAIL, "timeout")]
    assert d.queue("q").waiting == []


def test_a_ringing_caller_does_not_time_out_mid_ring() -> None:
    d, clock = build(QueueConfig("q", max_wait_s=10, on_timeout=VOICEMAIL), ["a"])
    d.join("q", "c1", "1")
    d.step()
    clock.advance(15)
    assert d.step().redirects == []
    d.no_answer("c1", "a")
    assert [r.reason for r in d.step().redirects] == ["timeout"]


def test_max_length_overflows_to_another_queue() -> None:
    d, _ = build(QueueConfig("q", max_len=2, on_full=OTHER), ["a"], login=False)
    d.join("q", "c1", "1")
    d.join("q", "c2", "2")
    out = d.join("q", "c3", "3")
    [ev] = out.events
    assert isinstance(ev, CallOverflowed) and ev.reason == "full" and ev.destination == OTHER
    assert [c.call_id for c in d.queue("q").waiting] == ["c1", "c2"]


def test_join_empty_refuses_when_nobody_is_logged_in() -> None:
    cfg = QueueConfig("q", join_empty=EmptyRule.NO_AGENT_LOGGED_IN, on_empty=VOICEMAIL)
    d, _ = build(cfg, ["a"], login=False)
    assert [r.reason for r in d.join("q", "c1", "1").redirects] == ["join_empty"]
    d.agent("a").login()
    d.agent("a").pause("lunch")  # paused still counts as logged in
    assert d.join("q", "c2", "1").redirects == []


def test_join_empty_no_agent_ready_counts_paused_as_empty() -> None:
    cfg = QueueConfig("q", join_empty=EmptyRule.NO_AGENT_READY, on_empty=VOICEMAIL)
    d, _ = build(cfg, ["a"])
    d.agent("a").pause("lunch")
    assert [r.reason for r in d.join("q", "c1", "1").redirects] == ["join_empty"]


def test_leave_when_empty_moves_waiting_callers_out() -> None:
    cfg = QueueConfig("q", leave_when_empty=EmptyRule.NO_AGENT_READY, on_empty=VOICEMAIL)
    d, clock = build(cfg, ["a"])
    d.agent("a").pause("x")
    d.join("q", "c1", "1")
    clock.advance(5)
    out = d.step()
    [ev] = out.events
    assert isinstance(ev, CallOverflowed) and ev.reason == "leave_empty" and ev.wait_s == 5


def test_abandon_releases_ringing_agents_without_a_miss() -> None:
    d, clock = build(QueueConfig("q"), ["a"])
    d.join("q", "c1", "1")
    d.step()
    clock.advance(7)
    out = d.abandon("c1")
    assert isinstance(out.events[-1], CallAbandoned) and out.events[-1].wait_s == 7
    assert d.agent("a").is_available() and d.agent("a").misses == 0


def test_ring_no_answer_keeps_the_callers_place_and_tries_the_next_agent() -> None:
    d, _ = build(QueueConfig("q"), ["a", "b"])
    d.join("q", "c1", "1")
    d.join("q", "c2", "2")
    assert offered(d.step()) == [("c1", ("a",)), ("c2", ("b",))]
    d.no_answer("c1", "a")
    assert d.queue("q").position("c1") == 1
    assert offered(d.step()) == [("c1", ("a",))]  # a is available again; the miss is counted
    assert d.agent("a").misses == 1


def test_wrap_up_is_honoured_per_queue() -> None:
    d, clock = build(QueueConfig("q", wrap_up_s=30), ["a"])
    d.join("q", "c1", "1")
    d.step()
    d.answered("c1", "a")
    d.hangup("c1")
    d.join("q", "c2", "2")
    clock.advance(29)
    assert d.step().offers == []
    assert d.next_deadline() == 30
    clock.advance(1)
    assert offered(d.step()) == [("c2", ("a",))]


def test_transfer_ends_the_agents_part() -> None:
    d, clock = build(QueueConfig("q"), ["a"])
    d.join("q", "c1", "1")
    d.step()
    d.answered("c1", "a")
    clock.advance(12)
    out = d.hangup("c1", transfer_to="ext:205")
    assert [type(e).__name__ for e in out.events] == ["CallTransferred", "AgentCallEnded", "CallEnded"]
    assert d.agent("a").is_available()


def test_bad_commands_raise_and_change_nothing() -> None:
    d, _ = build(QueueConfig("q"), ["a", "b"])
    with pytest.raises(DomainError, match="unknown queue"):
        d.join("nope", "c1", "1")
    d.join("q", "c1", "1")
    with pytest.raises(DomainError, match="already in the ACD"):
        d.join("q", "c1", "1")
    [offer] = d.step().offers
    with pytest.raises(DomainError, match="not offered"):
        d.answered("c1", "b")
    with pytest.raises(DomainError, match="not waiting"):
        d.abandon("ghost")
    with pytest.raises(DomainError, match="not an answered"):
        d.hangup("c1")
    assert d.queue("q").find("c1") is not None and offer.agent_ids == ("a",)
    assert d.agent("b").is_available()


def test_one_agent_in_two_queues_is_offered_one_call() -> None:
    d, _ = build(QueueConfig("q"), ["a"])
    from appliance.acd.queue import Queue

    d.add_queue(Queue(QueueConfig("r"), [Member("a")]))
    d.join("r", "r1", "1")
    d.join("q", "q1", "1")
    assert offered(d.step()) == [("r1", ("a",))]
    assert d.staffed("q") == 1 and d.free("q") == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"wrap_up_s": -1}, "wrap_up_s"),
        ({"max_len": 0}, "max_len"),
        ({"tiers": (Tier(0, 3), Tier(10, 5))}, "widen"),
        ({"tiers": (Tier(5, 3),)}, "after_s=0"),
        ({"on_timeout": Destination(DestinationKind.QUEUE, "q")}, "back to itself"),
    ],
)
def test_bad_queue_config_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        QueueConfig("q", **kwargs)  # type: ignore[arg-type]


def test_bad_member_is_refused() -> None:
    d, _ = build(QueueConfig("q"), ["a"])
    with pytest.raises(DomainError, match="skill levels"):
        d.queue("q").add_member(Member("a", skills={"x": 11}))
    with pytest.raises(DomainError, match="penalty"):
        d.queue("q").add_member(Member("a", penalty=-1))


def test_destination_parse() -> None:
    assert Destination.parse("queue:sales") == Destination(DestinationKind.QUEUE, "sales")
    assert str(Destination.parse("hangup")) == "hangup"
    with pytest.raises(DomainError, match="unknown destination kind"):
        Destination.parse("fax:1")
    with pytest.raises(DomainError, match="needs a target"):
        Destination.parse("voicemail")
