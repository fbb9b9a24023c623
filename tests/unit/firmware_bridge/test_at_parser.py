"""The AT parser over recorded transcripts per profile, fed whole, byte by byte and randomly."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.at.parser import AtParser, Event, Noise, Prompt, Response, Urc, command_prefix
from firmware_bridge.profiles import PROFILES

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Step:
    """One host action with the modem bytes that follow it and the events expected."""

    command: str | None = None
    after_prompt: str | None = None
    modem: bytes = b""
    expected: list[str] = field(default_factory=list)


def load(name: str) -> list[Step]:
    steps: list[Step] = [Step()]
    for raw in (FIXTURES / name).read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        tag, _, rest = raw.partition(" ")
        if tag == ">":
            steps.append(Step(command=rest))
        elif tag == ">>":
            steps.append(Step(after_prompt=rest))
        elif tag == "<":
            steps[-1].modem += codecs.decode(rest, "unicode_escape").encode("latin-1")
        elif tag == "=":
            steps[-1].expected.append(rest)
        else:
            raise ValueError(f"bad fixture line {raw!r}")
    return steps


def render(event: Event) -> str:
    if isinstance(event, Response):
        return " | ".join([f"RESPONSE {event.command} {event.final}", *event.lines])
    if isinstance(event, Urc):
        return f"URC {event.line}" + (f" || {event.payload}" if event.payload else "")
    if isinstance(event, Prompt):
        return "PROMPT"
    assert isinstance(event, Noise)
    return "NOISE"


def run(profile: str, steps: list[Step], chunking: list[int] | None) -> list[list[str]]:
    parser = AtParser(PROFILES[profile].urc_prefixes)
    got: list[list[str]] = []
    sizes = iter(chunking or [])
    for step in steps:
        if step.command is not None:
            parser.begin(step.command, expects_prompt=step.command.startswith("AT+CMGS"))
        if step.after_prompt is not None:
            parser.sent_text(step.after_prompt)
        events: list[Event] = []
        data = step.modem
        while data:
            size = next(sizes, len(data)) if chunking is not None else len(data)
            size = max(1, size)
            events += parser.feed(data[:size])
            data = data[size:]
        got.append([render(e) for e in events])
    return got


@pytest.mark.parametrize("profile", ["quectel", "simcom", "huawei"])
def test_transcript_fed_whole(profile: str) -> None:
    steps = load(f"{profile}.txt")
    assert run(profile, steps, None) == [s.expected for s in steps]


@pytest.mark.parametrize("profile", ["quectel", "simcom", "huawei"])
def test_transcript_fed_byte_by_byte(profile: str) -> None:
    steps = load(f"{profile}.txt")
    got = run(profile, steps, [1] * 100_000)
    # byte-wise feeding may split garbage into several noise events; nothing else differs
    assert [[e for e in g if e != "NOISE"] for g in got] == [
        [e for e in s.expected if e != "NOISE"] for s in steps]


@pytest.mark.parametrize("profile", ["quectel", "simcom", "huawei"])
@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=400))
def test_transcript_any_chunking(profile: str, sizes: list[int]) -> None:
    steps = load(f"{profile}.txt")
    got = run(profile, steps, sizes)
    assert [[e for e in g if e != "NOISE"] for g in got] == [
        [e for e in s.expected if e != "NOISE"] for s in steps]


def test_urc_inside_response_does_not_end_it() -> None:
    parser = AtParser(PROFILES["huawei"].urc_prefixes)
    parser.begin("AT+CSQ")
    first = parser.feed(b"\r\n+CSQ: 17,99\r\n\r\n^RSSI:17\r\n")
    assert [render(e) for e in first] == ["URC ^RSSI:17"]
    assert parser.pending == "AT+CSQ"
    rest = parser.feed(b"\r\nOK\r\n")
    assert [render(e) for e in rest] == ["RESPONSE AT+CSQ OK | +CSQ: 17,99"]


def test_garbage_with_no_command_pending_changes_nothing() -> None:
    parser = AtParser()
    events = parser.feed(bytes(range(0, 32)) + b"\xff\xfe\x80\r\n")
    assert all(isinstance(e, Noise) for e in events)
    parser.begin("AT")
    assert [render(e) for e in parser.feed(b"\r\nOK\r\n")] == ["RESPONSE AT OK"]


def test_cancelled_command_lets_the_next_one_start() -> None:
    parser = AtParser()
    parser.begin("AT+CSQ")
    with pytest.raises(RuntimeError):
        parser.begin("AT")
    parser.cancel()
    parser.begin("AT")
    assert [render(e) for e in parser.feed(b"\r\nOK\r\n")] == ["RESPONSE AT OK"]


def test_response_info_values() -> None:
    r = Response("AT+CSQ", ("+CSQ: 17,99",), "OK")
    assert r.ok and r.info("+CSQ") == ["17,99"]
    assert not Response("AT", (), "+CME ERROR: 10").ok


@pytest.mark.parametrize(("command", "prefix"), [
    ("AT+CSQ", "+CSQ:"), ("AT+CMGR=3", "+CMGR:"), ("AT+COPS?", "+COPS:"),
    ("AT^SYSINFO", "^SYSINFO:"), ("ATI", ""), ("ATD123;", ""),
])
def test_command_prefix(command: str, prefix: str) -> None:
    assert command_prefix(command) == prefix
