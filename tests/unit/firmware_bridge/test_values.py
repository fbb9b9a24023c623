"""Decoding of +CSQ, +QCSQ, +CREG, +COPS, +CPIN, +CLCC values."""

from __future__ import annotations

import pytest

from firmware_bridge.at.values import (
    AtValueError,
    Registration,
    SimState,
    parse_clcc,
    parse_cops,
    parse_cpin,
    parse_creg,
    parse_csq,
    parse_qcsq,
    sim_state_from_error,
    split_args,
)


def test_split_args_keeps_commas_inside_quotes() -> None:
    assert split_args('0,0,"Op, Inc",7') == ["0", "0", "Op, Inc", "7"]
    with pytest.raises(AtValueError):
        split_args('"open')


def test_csq_to_dbm_and_bars() -> None:
    s = parse_csq("20,99")
    assert s.rssi_dbm == -73 and s.ber is None and s.bars == 4
    assert parse_csq("99,99").rssi_dbm is None and parse_csq("99,99").bars == 0
    with pytest.raises(AtValueError):
        parse_csq("40,0")
    with pytest.raises(AtValueError):
        parse_csq("x,0")


def test_qcsq_adds_lte_detail() -> None:
    s = parse_qcsq('"LTE",-65,-95,150,-9', parse_csq("24,99"))
    assert (s.rat, s.rssi_dbm, s.rsrp_dbm, s.sinr_db, s.rsrq_db) == ("LTE", -65, -95, 10, -9)
    assert parse_qcsq('"NOSERVICE"', parse_csq("99,99")).rat is None


def test_creg_answer_and_urc() -> None:
    assert parse_creg("0,1") is Registration.HOME
    assert parse_creg("2,5,\"1A2B\",\"01C3\",7") is Registration.ROAMING
    assert parse_creg("2", unsolicited=True) is Registration.SEARCHING
    assert not Registration.DENIED.registered
    with pytest.raises(AtValueError):
        parse_creg("0,9")


def test_cops() -> None:
    op = parse_cops('0,0,"Simnet",7')
    assert op.name == "Simnet" and op.access_technology == "E-UTRAN"
    assert parse_cops("0").name is None


def test_cpin_and_cme_errors() -> None:
    assert parse_cpin("READY") is SimState.READY
    assert parse_cpin("SIM PIN") is SimState.PIN_REQUIRED
    assert parse_cpin("SIM PUK") is SimState.PUK_REQUIRED
    assert sim_state_from_error("+CME ERROR: 10") is SimState.ABSENT
    assert sim_state_from_error("+CME ERROR: SIM not inserted") is SimState.ABSENT
    assert sim_state_from_error("+CME ERROR: 30") is None
    assert sim_state_from_error("ERROR") is None


def test_clcc() -> None:
    line = parse_clcc('1,1,4,0,0,"+972501234567",145')
    assert (line.index, line.outgoing, line.stat, line.number) == (1, False, 4, "+972501234567")
    with pytest.raises(AtValueError):
        parse_clcc("1,0")
