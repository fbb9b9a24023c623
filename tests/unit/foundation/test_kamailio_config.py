"""The rendered Kamailio config carries the settings and is accepted by real Kamailio."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.sip.kamailio import EdgeConfig, check_config, render, write_config


def cfg(tmp_path: Path, **kw: object) -> EdgeConfig:
    base: dict[str, object] = dict(
        ip="127.0.0.1", sip_port=5999, controller_url="http://127.0.0.1:1/internal/tok",
        run_dir=tmp_path, realm="office", workers=("127.0.0.1:6001", "127.0.0.1:6002"),
        trusted=("127.0.0.9",),
    )
    base.update(kw)
    return EdgeConfig(**base)  # type: ignore[arg-type]


def test_settings_reach_the_config(tmp_path: Path) -> None:
    text = render(cfg(tmp_path, ban_seconds=123, auth_fail_max=7, auth_fail_window_s=321, pike_density=55))
    assert 'ban=>size=8;autoexpire=123;' in text
    assert 'authfail=>size=8;autoexpire=321;' in text
    assert '$var(fails) >= 7' in text
    assert '"reqs_density_per_unit", 55' in text
    assert "$sht(workers=>127.0.0.1:6001) = 1;" in text and "$sht(trusted=>127.0.0.9) = 1;" in text
    assert 'auth_challenge("office", "1")' in text
    assert "listen=udp:127.0.0.1:5999" in text and "listen=tcp:127.0.0.1:5999" in text


def test_real_kamailio_accepts_the_rendered_config(tmp_path: Path) -> None:
    check_config(write_config(cfg(tmp_path)))


def test_real_kamailio_rejects_a_broken_one(tmp_path: Path) -> None:
    path = write_config(cfg(tmp_path))
    path.write_text(path.read_text().replace("route[RELAY] {", "route[RELAY] {{"))
    with pytest.raises(ValueError, match="rejects"):
        check_config(path)
