"""``python -m airflow_provider_tiktok.emulator`` as a real subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, API_PREFIX


def free_port() -> int:
    """A port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.integration
def test_cli_serves_advertiser_info_with_faults() -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "airflow_provider_tiktok.emulator",
        "--port",
        str(port),
        "--seed",
        "7",
        "--fault",
        "path=advertiser/info,kind=code,code=40133,count=1",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}{API_PREFIX}/advertiser/info/"
    params = {"advertiser_ids": json.dumps([ADVERTISER_A])}
    headers = {"Access-Token": ACCESS_TOKEN}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                first = requests.get(url, params=params, headers=headers, timeout=2).json()
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.1)
        assert first["code"] == 40133
        answer = requests.get(url, params=params, headers=headers, timeout=2).json()
        assert answer["code"] == 0
        assert answer["data"]["list"][0]["name"] == "Demo Store US"
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/open_api/v1.3/" in out


@pytest.mark.integration
def test_cli_rejects_a_bad_fault_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_tiktok.emulator", "--fault", "kind=explode"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "fault kind" in result.stderr


@pytest.mark.unit
def test_cli_flags_configure_the_state() -> None:
    from airflow_provider_tiktok.emulator.__main__ import build_state, parse_args

    assert build_state(parse_args([])).settings.keep_event_bodies is True
    state = build_state(parse_args(["--receipts-only", "--replace-processing-seconds", "2.5"]))
    assert (state.settings.keep_event_bodies, state.settings.replace_processing_seconds) == (False, 2.5)
