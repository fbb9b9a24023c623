"""End to end: 40 callers through an IVR into 4 queues served by 20 agents (issue 3's bench).

    .venv/bin/python -m bench.acd_e2e --call-s 45 --rate 2

A real `appliance run` (Kamailio, 24 media workers) on loopback. Before its first start the
database gets: agent extensions 201-220, queues 710-713 (6, 6, 5 and 3 agents, wrap-up 2 s,
longest-idle), IVR 800 (keys 1-4 -> queues 710-713) and the agents' log-in, as the queue
event log of a box that restarted with its agents logged in would hold it. The agents are
one SIPp UAS with -rtp_echo (every agent extension registered to its address): it answers at
once and echoes. Callers are four SIPp UACs from the trusted trunk port, one per key, 10 calls
each at --rate calls/s: each waits 1.5 s into the IVR greeting, presses its key (SIPp's RFC
2833 pcap), streams a 1 kHz tone and hangs up --call-s seconds after the answer, whether an
agent has taken it or not (a caller still waiting then is an abandon).

Reported side by side, per queue and in total:
- what the box says: its live KPIs (wallboard API: service level, ASA, abandonment);
- what the load generator saw, from SIPp's message traces: wait = the agent's 200 OK for
  that caller's leg minus the moment the caller pressed the key. The box counts the wait from
  the caller's join, after the queue's welcome prompt; the difference is that prompt.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import ssl
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from appliance.storage.db import migrate_sync
from appliance.storage.directory import ha1
from appliance.web_services.certs import cert_paths
from tests.support.appliance import Appliance, make_appliance
from tests.support.net import free_ports
from tests.support.sipp import BENCH_SIPP, make_tone_alaw, sipp_binary
from tests.support.sipreg import SipClient

QUEUES = {"710": 6, "711": 6, "712": 5, "713": 3}  # queue -> agents
KEYS = {"1": "710", "2": "711", "3": "712", "4": "713"}
CALLERS_PER_QUEUE = 10
KEY_AFTER_MS = 1500
SL_THRESHOLD_S = 20.0
ADMIN = ("admin", "bench admin password 1")

CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="IVR caller pressing KEY">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:9KEY0[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:9KEY0[call_number]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
  ]]></send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="183" optional="true"></recv>
  <recv response="200" rtd="true"></recv>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:9KEY0[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:9KEY0[call_number]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <pause milliseconds="KEY_AFTER_MS"/>
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_KEY.pcap"/></action></nop>
  <pause milliseconds="600"/>
  <nop><action><exec rtp_stream="caller.alaw,-1,8"/></action></nop>
  <pause milliseconds="CALL_MS"/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:9KEY0[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:9KEY0[call_number]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200" crlf="true"></recv>
</scenario>
"""

_STAMP = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)", re.M)


def preseed(data: Path, now: str) -> dict[str, str]:
    """Agents, queues, IVR 800 and the agents' log-in, before the first start; returns passwords."""
    db = data / "appliance.db"
    migrate_sync(db)
    passwords: dict[str, str] = {}
    conn = sqlite3.connect(db)
    try:
        with conn:
            agent = 201
            for queue, staff in QUEUES.items():
                members = [str(agent + i) for i in range(staff)]
                agent += staff
                conn.execute(
                    "INSERT INTO queues(number, name, strategy, wrap_up_s, ring_timeout_s) "
                    "VALUES (?, ?, 'leastrecent', 2, 15)", (queue, f"Bench {queue}"),
                )
                for pos, ext in enumerate(members):
                    password = f"bench-{ext}-pw"
                    passwords[ext] = password
                    conn.execute("INSERT INTO extensions(number, display_name, ha1, realm) VALUES (?, ?, ?, ?)",
                                 (ext, f"Agent {ext}", ha1(ext, "appliance", password), "appliance"))
                    conn.execute("INSERT INTO queue_members(queue, position, extension) VALUES (?, ?, ?)",
                                 (queue, pos, ext))
                    conn.execute(
                        "INSERT INTO queue_events(at, mono, type, agent_id, data) VALUES (?, 0, 'AgentLoggedIn', ?, ?)",
                        (now, ext, json.dumps({"agent_id": ext, "old": "logged_out", "new": "available"})),
                    )
            menu = {"entry": "menu:main", "menus": {"main": {
                "prompt": "say:Welcome. Press one to four.",
                "options": {k: f"queue:{q}" for k, q in KEYS.items()}, "timeout_s": 10, "max_retries": 1}}}
            conn.execute("INSERT INTO ivrs(number, name, language, config, updated_at)"
                         " VALUES ('800', 'Bench', 'en', ?, '')", (json.dumps(menu),))
    finally:
        conn.close()
    return passwords


def messages(log: Path) -> list[tuple[float, str, str]]:
    """(time, 'sent'|'received', message text from its first line) of a SIPp -trace_msg file."""
    text = log.read_text(errors="replace")
    out: list[tuple[float, str, str]] = []
    marks = list(_STAMP.finditer(text))
    for i, m in enumerate(marks):
        body = text[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        at = datetime.fromisoformat(f"{m.group(1)} {m.group(2)}").timestamp()
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) > 1:
            out.append((at, "sent" if "message sent" in lines[0] else "received", "\n".join(lines[1:])))
    return out


def _header(msg: str, name: str) -> str:
    m = re.search(rf"^{name}:\s*(.*)$", msg, re.M | re.I)
    return m.group(1).strip() if m else ""


def generator_view(work: Path) -> dict[str, dict[str, float]]:
    """Per caller number: when the key was pressed and when an agent answered (if one did)."""
    pressed: dict[str, float] = {}
    for log in work.glob("caller_*_messages.log"):
        for at, way, msg in messages(log):
            if way == "sent" and msg.startswith("ACK"):
                user = re.search(r"sip:(\d+)@", _header(msg, "From"))
                if user:
                    pressed[user.group(1)] = at + KEY_AFTER_MS / 1000
    by_call: dict[str, str] = {}
    answered: dict[str, float] = {}
    for log in work.glob("agent_*_messages.log"):
        for at, way, msg in messages(log):
            first = msg.split("\n", 1)[0]
            call_id = _header(msg, "Call-ID")
            if way == "received" and first.startswith("INVITE"):
                user = re.search(r"sip:(\d+)@", _header(msg, "From"))
                if user:
                    by_call[call_id] = user.group(1)
            elif way == "sent" and first.startswith("SIP/2.0 200") and "INVITE" in _header(msg, "CSeq"):
                caller = by_call.get(call_id)
                if caller and caller not in answered:
                    answered[caller] = at
    return {n: {"pressed": t, **({"answered": answered[n]} if n in answered else {})} for n, t in pressed.items()}


def summarise(view: dict[str, dict[str, float]], numbers: list[str]) -> dict[str, float]:
    """SL, ASA and abandonment from the generator's waits."""
    waits = [view[n]["answered"] - view[n]["pressed"] for n in numbers if n in view and "answered" in view[n]]
    total = len([n for n in numbers if n in view])
    return {
        "callers": total,
        "answered": len(waits),
        "sl": sum(1 for w in waits if w <= SL_THRESHOLD_S) / total if total else 0.0,
        "asa_s": statistics.mean(waits) if waits else 0.0,
        "abandon": (total - len(waits)) / total if total else 0.0,
    }


def box_kpis(box: Appliance) -> dict[str, dict[str, Any]]:
    """The box's own KPIs per queue, through its API as a supervisor sees them."""
    trust = ssl.create_default_context(cafile=str(cert_paths(box.data_dir)[0]))
    with httpx.Client(base_url=f"https://127.0.0.1:{box.web_port}", verify=trust, timeout=10) as c:
        c.post("/api/v1/setup", json={"username": ADMIN[0], "password": ADMIN[1]}).raise_for_status()
        r = c.post("/api/v1/session", json={"username": ADMIN[0], "password": ADMIN[1]})
        r.raise_for_status()
        board = c.get("/api/v1/wallboard").json()
    return {q["number"]: q for q in board["queues"]}


def run(work: Path, call_s: int, rate: float, workers: int) -> None:
    """One run; prints the comparison."""
    data = work / "data"
    data.mkdir()
    passwords = preseed(data, datetime.now().astimezone().isoformat())
    box = make_appliance(data, workers=workers)
    # All at once, so none is handed out twice: callers for keys 2-4 come from trusted ports too.
    agent_port, agent_media, *ports = free_ports(2 + 2 * len(KEYS) - 1)
    sip_ports, media = ports[: len(KEYS) - 1], ports[len(KEYS) - 1:]
    box.start(extra=[a for p in sip_ports for a in ("--trusted", f"127.0.0.1:{p}")], timeout=600)
    agent: subprocess.Popen[bytes] | None = None
    callers: list[subprocess.Popen[bytes]] = []
    try:
        make_tone_alaw(work / "caller.alaw", 1000, seconds=10)
        agent = subprocess.Popen(
            [sipp_binary(), "-sf", str(BENCH_SIPP / "agent_alaw_echo.xml"), "-rtp_echo", "-i", "127.0.0.1",
             "-p", str(agent_port), "-mp", str(agent_media), "-nostdin", "-trace_msg",
             "-message_file", str(work / "agent_0_messages.log")],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with SipClient() as reg:
            for ext, password in passwords.items():
                code = reg.register(ext, password, ("127.0.0.1", box.sip_port),
                                    contact=f"sip:{ext}@127.0.0.1:{agent_port}", expires=3600)
                if code != 200:
                    raise RuntimeError(f"agent {ext} registration failed: {code}")
        t0 = time.monotonic()
        caller_ports = [box.trunk_port, *sip_ports]
        for (key, _queue), port, sip_port in zip(KEYS.items(), media, caller_ports, strict=True):
            scenario = work / f"caller_{key}.xml"
            scenario.write_text(CALLER.replace("KEY_AFTER_MS", str(KEY_AFTER_MS)).replace("KEY", key)
                                .replace("CALL_MS", str(call_s * 1000)))
            callers.append(subprocess.Popen(
                [sipp_binary(), f"127.0.0.1:{box.sip_port}", "-sf", str(scenario), "-s", "800",
                 "-i", "127.0.0.1", "-p", str(sip_port), "-mp", str(port),
                 "-l", str(CALLERS_PER_QUEUE), "-r", str(rate), "-m", str(CALLERS_PER_QUEUE),
                 "-timeout", f"{call_s + 90}s", "-nostdin", "-trace_msg",
                 "-message_file", str(work / f"caller_{key}_messages.log")],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        for c in callers:
            c.wait(call_s + 120)
        elapsed = time.monotonic() - t0
        time.sleep(3)
        kpis = box_kpis(box)
    finally:
        for p in [*callers, *([agent] if agent else [])]:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        box.stop()
    view = generator_view(work)
    print(f"{len(view)} callers seen by the generator in {elapsed:.0f} s; SL threshold {SL_THRESHOLD_S:.0f} s")
    print(f"{'queue':<6}{'agents':>7} | {'box SL':>7}{'box ASA':>9}{'box abn':>8} | "
          f"{'gen SL':>7}{'gen ASA':>9}{'gen abn':>8}{'answered':>9}")
    for key, queue in KEYS.items():
        g = summarise(view, [n for n in view if n.startswith(f"9{key}0")])
        b = kpis.get(queue, {})
        print(f"{queue:<6}{QUEUES[queue]:>7} | {_pct(b.get('service_level')):>7}{_s(b.get('asa_s')):>9}"
              f"{_pct(b.get('abandon_rate')):>8} | {g['sl']:>7.0%}{g['asa_s']:>8.1f}s{g['abandon']:>8.0%}"
              f"{g['answered']:>5.0f}/{g['callers']:.0f}")
    print("box raw:", json.dumps(kpis, default=str)[:2000])


def _pct(v: Any) -> str:
    return "-" if v is None else f"{float(v):.0%}"


def _s(v: Any) -> str:
    return "-" if v is None else f"{float(v):.1f}s"


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call-s", type=int, default=45)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=24)
    parser.add_argument("--keep", type=Path, help="keep SIPp traces and the box's data in this new directory")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        run(args.keep or Path(tmp), min(max(args.call_s, 10), 300), min(max(args.rate, 0.2), 10.0),
            min(max(args.workers, 2), 60))


if __name__ == "__main__":
    main()
