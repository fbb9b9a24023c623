"""Capacity benchmark: SIPp load against `appliance run` (the shared anchors' load).

Each call: a SIPp caller (trusted trunk, A-law 1 kHz stream) dials ring group 600; the box
answers on a media worker, hunts to the agent (SIPp, -rtp_echo, registered as extension
102), bridges and records. N concurrent 20 s calls, N/20 new calls a second, 5N calls.

Measured over the steady window (25 s to 95 s after the first call): success ratio,
INVITE->200 time p50/p99 (-trace_rtt), CPU of every process of the box (utime+stime from
/proc) and of SIPp, memory of the box (PSS, so shared pages count once), every recording's duration (>= 19.5 s).

    .venv/bin/python bench/capacity.py --calls 20 40 60 --out bench/out

Bounded: at most 5N calls per level, each level stops by itself (SIPp -timeout).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.appliance import make_appliance  # noqa: E402
from tests.support.net import free_ports  # noqa: E402
from tests.support.procs import find_pids  # noqa: E402
from tests.support.sipp import BENCH_SIPP, make_tone_alaw, sipp_binary  # noqa: E402
from tests.support.sipreg import SipClient  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime+stime of one process, in seconds (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process: shared pages (Kamailio's shm, the pjsua2
    library) split among their users, so a sum over processes counts them once."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def box_pids(data_dir: Path, supervisor: int) -> list[int]:
    """Every process of the box: supervisor, controller, Kamailio and its forks, workers."""
    return sorted(set(find_pids(str(data_dir))) | {supervisor})


def kind_of(pid: int) -> str:
    """kamailio, worker, controller or supervisor, from the command line."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    for needle, kind in (("kamailio", "kamailio"), (" worker ", "workers"), (" controller ", "controller")):
        if needle in cmd:
            return kind
    return "supervisor"


def cpu_by_kind(pids: list[int]) -> dict[str, float]:
    """CPU seconds per kind of process."""
    out: dict[str, float] = {}
    for p in pids:
        out[kind_of(p)] = out.get(kind_of(p), 0.0) + cpu_seconds(p)
    return out


def sample(pids: list[int]) -> tuple[float, int]:
    """(cpu seconds, pss bytes) summed over pids."""
    return sum(cpu_seconds(p) for p in pids), sum(pss_bytes(p) for p in pids)


def p99(values: list[float]) -> float | None:
    """99th percentile (the maximum below 100 samples)."""
    if not values:
        return None
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)


def run_level(n: int, work: Path, call_s: int, workers: int | None) -> dict[str, object]:
    """One load level; returns its figures."""
    workers = workers or max(2, (2 * n + 3) // 4 + 1)
    box = make_appliance(work / f"box{n}", workers=workers)
    try:
        box.start(timeout=600)
        time.sleep(3)
        idle_cpu0, idle_mem = sample(box_pids(box.data_dir, box.proc.pid))  # type: ignore[union-attr]
        time.sleep(10)
        idle_cpu1, _ = sample(box_pids(box.data_dir, box.proc.pid))  # type: ignore[union-attr]
        make_tone_alaw(work / "caller.alaw", 1000, seconds=10)
        agent_port, agent_media, caller_media = free_ports(3)
        agent = subprocess.Popen(
            [sipp_binary(), "-sf", str(BENCH_SIPP / "agent_alaw_echo.xml"), "-rtp_echo", "-i", "127.0.0.1",
             "-p", str(agent_port), "-mp", str(agent_media), "-nostdin", "-max_socket", "4096"],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with SipClient() as reg:
            code = reg.register("102", box.passwords["102"], ("127.0.0.1", box.sip_port),
                                contact=f"sip:102@127.0.0.1:{agent_port}", expires=3600)
        if code != 200:
            raise RuntimeError(f"agent registration failed: {code}")
        rate = max(1, n // 20)
        total = 5 * n
        t0 = time.monotonic()
        caller = subprocess.Popen(
            [sipp_binary(), f"127.0.0.1:{box.sip_port}", "-sf", str(BENCH_SIPP / "caller_alaw_stream.xml"),
             "-s", "600", "-d", str(call_s * 1000), "-i", "127.0.0.1", "-p", str(box.trunk_port),
             "-mp", str(caller_media), "-l", str(n), "-r", str(rate), "-m", str(total),
             "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-fd", "5", "-nostdin", "-trace_err",
             "-timeout", f"{total // rate + call_s + 60}s", "-max_socket", "4096"],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        samples: dict[str, tuple[float, int, float]] = {}
        kinds: dict[str, dict[str, float]] = {}
        for label, at in (("start", 25.0), ("end", 95.0)):
            while time.monotonic() - t0 < at and caller.poll() is None:
                time.sleep(0.2)
            pids = box_pids(box.data_dir, box.proc.pid)  # type: ignore[union-attr]
            cpu, mem = sample(pids)
            samples[label] = (cpu, mem, cpu_seconds(caller.pid) + cpu_seconds(agent.pid))
            kinds[label] = cpu_by_kind(pids)
        window = 70.0
        caller.wait(total // rate + call_s + 120)
        agent.terminate()
        agent.wait(10)
        stat_files = sorted(work.glob("caller_alaw_stream_*_.csv"))
        ok = failed = 0
        if stat_files:
            rows = list(csv.reader(stat_files[-1].open(), delimiter=";"))
            head, last = rows[0], rows[-1]
            ok = int(last[head.index("SuccessfulCall(C)")])
            failed = int(last[head.index("FailedCall(C)")])
        rtts: list[float] = []
        for f in work.glob("caller_alaw_stream_*_rtt.csv"):
            for row in list(csv.reader(f.open(), delimiter=";"))[1:]:
                if len(row) >= 2 and row[1].strip():
                    rtts.append(float(row[1]))  # Date_ms;response_time_ms;rtd_no
        time.sleep(3)
        durations = [float(r["duration_s"]) for r in box.query("SELECT duration_s FROM recordings")]
        box_cpu = (samples["end"][0] - samples["start"][0]) / window * 100
        sipp_cpu = (samples["end"][2] - samples["start"][2]) / window * 100
        return {
            "calls": n, "workers": workers, "attempted": ok + failed, "successful": ok,
            "success_ratio": ok / (ok + failed) if ok + failed else 0.0,
            "setup_ms_p50": statistics.median(rtts) if rtts else None,
            "setup_ms_p99": p99(rtts),
            "box_cpu_pct_of_one_core": round(box_cpu, 1),
            "box_cpu_pct_per_call": round(box_cpu / n, 3),
            "cpu_pct_by_process": {
                k: round((kinds["end"].get(k, 0) - kinds["start"].get(k, 0)) / window * 100, 1)
                for k in kinds["end"]
            },
            "sipp_cpu_pct_of_one_core": round(sipp_cpu, 1),
            "box_pss_mb_loaded": round(samples["end"][1] / 2**20, 1),
            "box_pss_mb_idle": round(idle_mem / 2**20, 1),
            "box_pss_mb_per_call": round((samples["end"][1] - idle_mem) / 2**20 / n, 2),
            "box_idle_cpu_pct": round((idle_cpu1 - idle_cpu0) / 10 * 100, 2),
            "recordings": len(durations),
            "recordings_full_length": sum(1 for d in durations if d >= call_s - 0.5),
        }
    finally:
        try:
            box.stop(timeout=180)
        except Exception as exc:  # the figures above stand; say the box was slow to stop
            print(f"box {n} did not stop cleanly: {exc!r}", file=sys.stderr)


def main() -> int:
    """Run the requested load levels and print/write their figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, nargs="+", default=[20, 40])
    ap.add_argument("--call-seconds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None, help="default: enough 4-leg workers + 1")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--keep", action="store_true", help="keep each level's work directory")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.calls:
        work = Path(tempfile.mkdtemp(prefix=f"bench{n}-"))
        try:
            res = run_level(n, work, args.call_seconds, args.workers)
        finally:
            if args.keep:
                print(f"work directory kept: {work}", file=sys.stderr)
            else:
                shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(res), flush=True)
        results.append(res)
    (args.out / f"capacity-{int(time.time())}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
