"""The `appliance` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from appliance import config
from appliance.config import Settings


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data-dir", type=Path, default=Path("data"), help="data directory (default ./data)")
    ap.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"])


def _settings(args: argparse.Namespace) -> Settings:
    s = config.load(args.data_dir)
    return s.with_overrides(log_level=args.log_level)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Start and supervise everything with embedded defaults."""
    from appliance.runner import run_all

    settings = config.load(args.data_dir).with_overrides(
        sip_ip=args.sip_ip, sip_port=args.sip_port, web_port=args.web_port, web_ip=args.web_ip,
        internal_port=args.internal_port, workers=args.workers, worker_base_port=args.worker_base_port,
        log_level=args.log_level, trusted=args.trusted, pike_density=args.pike_density,
        ban_seconds=args.ban_seconds, auth_fail_max=args.auth_fail_max,
        auth_fail_window_s=args.auth_fail_window, natping_interval=args.natping_interval,
    )
    _logging(settings.log_level)
    if args.modem_sim:
        from appliance.demo_modem import modem_settings

        port = args.modem_sim_sip_port or settings.sip_port + 20
        settings.extra["modem"] = modem_settings(args.modem_sim, settings.run_dir, port)
        (settings.run_dir / "modemsim").mkdir(parents=True, exist_ok=True)
    settings.save()
    return asyncio.run(run_all(settings))


def cmd_controller(args: argparse.Namespace) -> int:
    """Run the controller alone (systemd runs it so)."""
    from appliance.app import run_controller

    settings = _settings(args)
    _logging(settings.log_level)
    asyncio.run(run_controller(settings))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run one media worker."""
    from appliance.media import worker

    settings = _settings(args)
    index = int(args.name.lstrip("w")) if args.name.lstrip("w").isdigit() else 1
    return worker.main([
        "--name", args.name, "--ip", "127.0.0.1", "--sip-port", str(settings.worker_port(index)),
        "--rpc", str(settings.rpc_socket), "--log-level", settings.log_level,
    ])


def cmd_firmware_bridge(args: argparse.Namespace) -> int:
    """Run the modem manager on the configured serial port."""
    from firmware_bridge.service import VoiceSettings, run_bridge

    settings = _settings(args)
    _logging(settings.log_level)
    modem = dict(settings.extra.get("modem") or {})
    port = args.modem_port or modem.get("port")
    profile = args.modem_profile or modem.get("profile") or "quectel"
    try:
        voice = VoiceSettings.from_settings(modem, settings.sip_port)
    except ValueError as exc:
        print(f"firmware-bridge: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(run_bridge(port, profile, settings.run_dir / "modem.json", voice=voice))


def cmd_fleet(args: argparse.Namespace) -> int:
    """Run the cloud-side fleet service and dashboard."""
    from web.fleet.__main__ import main as fleet_main

    fleet_main(args.fleet_args)
    return 0


def cmd_render_kamailio(args: argparse.Namespace) -> int:
    """Render Kamailio's config into the run directory and check it."""
    from appliance.app import edge_config
    from appliance.sip.kamailio import check_config, write_config

    cfg = edge_config(_settings(args))
    if args.ctl_socket:
        from dataclasses import replace

        cfg = replace(cfg, ctl_socket=args.ctl_socket)
    path = write_config(cfg)
    check_config(path)
    print(path)
    return 0


def cmd_extension_passwd(args: argparse.Namespace) -> int:
    """Give an extension a new generated SIP password and show it once."""
    from appliance.storage.db import open_db
    from appliance.storage.directory import DirectoryStore

    settings = _settings(args)

    async def go() -> str:
        db = await open_db(settings.db_path)
        try:
            return await DirectoryStore(db, settings.realm).reset_password(args.number)
        finally:
            await db.close()

    try:
        password = asyncio.run(go())
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"extension {args.number}: new SIP password {password} (shown once)")
    return 0


def cmd_admin_create(args: argparse.Namespace) -> int:
    """Create a web admin or reset one's password (first start or recovery)."""
    from appliance.web_services.cli_admin import admin_create
    from appliance.web_services.errors import Invalid

    try:
        print(admin_create(args.data_dir, args.username, args.password))
    except Invalid as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    ap = argparse.ArgumentParser(prog="appliance", description="Edge contact-center appliance")
    sub = ap.add_subparsers(dest="cmd", required=True)

    run = sub.add_parser("run", help="start everything with embedded defaults and supervise it")
    _common(run)
    run.add_argument("--sip-ip", default=None, help="address Kamailio listens on (default 127.0.0.1)")
    run.add_argument("--sip-port", type=int, default=None, help="SIP port (default 5060)")
    run.add_argument("--web-ip", default=None)
    run.add_argument("--web-port", type=int, default=None, help="web port (default 8080)")
    run.add_argument("--internal-port", type=int, default=None, help="loopback port Kamailio asks")
    run.add_argument("--workers", type=int, default=None, help="number of media workers")
    run.add_argument("--worker-base-port", type=int, default=None)
    run.add_argument("--pike-density", type=int, default=None, help="requests per 2 s before a flood ban")
    run.add_argument("--ban-seconds", type=int, default=None, help="how long a banned address is dropped")
    run.add_argument("--auth-fail-max", type=int, default=None, help="failed authentications before a ban")
    run.add_argument("--auth-fail-window", type=int, default=None, help="seconds the failures are counted over")
    run.add_argument("--natping-interval", type=int, default=None, help="seconds between NAT keepalives")
    run.add_argument("--trusted", action="append", default=None, help="trunk address that skips auth")
    run.set_defaults(func=cmd_run)

    ctl = sub.add_parser("controller", help="run the controller")
    _common(ctl)
    ctl.set_defaults(func=cmd_controller)

    wk = sub.add_parser("worker", help="run one media worker")
    _common(wk)
    wk.add_argument("--name", required=True, help="w1, w2, ...")
    wk.set_defaults(func=cmd_worker)

    rk = sub.add_parser("render-kamailio", help="render and check Kamailio's config")
    _common(rk)
    rk.add_argument("--ctl-socket", type=Path, default=None, help="where Kamailio's control socket goes")
    rk.set_defaults(func=cmd_render_kamailio)

    run.add_argument("--modem-sim", default=None, choices=["quectel", "simcom", "huawei"],
                     help="demo: the project's modem simulator is the box's GSM modem (SMS, calls)")
    run.add_argument("--modem-sim-sip-port", type=int, default=None,
                     help="SIP port of the GSM voice gateway in simulator mode (default: SIP port + 20)")

    fb = sub.add_parser("firmware-bridge", help="run the modem manager (serial ports)")
    _common(fb)
    fb.add_argument("--modem-port", default=None, help="serial port or URL (default: settings extra.modem.port)")
    fb.add_argument("--modem-profile", default=None, choices=["quectel", "simcom", "huawei"])
    fb.set_defaults(func=cmd_firmware_bridge)

    fl = sub.add_parser("fleet", help="run the fleet service (cloud side); options after -- go to it")
    fl.add_argument("fleet_args", nargs=argparse.REMAINDER)
    fl.set_defaults(func=cmd_fleet)

    adm = sub.add_parser("admin", help="web admin accounts")
    adm_sub = adm.add_subparsers(dest="admin_cmd", required=True)
    ac = adm_sub.add_parser("create", help="create an admin, or reset one's password")
    _common(ac)
    ac.add_argument("username")
    ac.add_argument("--password", default=None, help="omit to generate one (printed once)")
    ac.set_defaults(func=cmd_admin_create)

    ext = sub.add_parser("extension", help="manage extensions")
    ext_sub = ext.add_subparsers(dest="ext_cmd", required=True)
    pw = ext_sub.add_parser("passwd", help="generate a new SIP password for an extension")
    _common(pw)
    pw.add_argument("number")
    pw.set_defaults(func=cmd_extension_passwd)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `appliance` command."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
