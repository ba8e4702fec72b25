"""A request held by a fault's delay goes on as soon as the faults are cleared.

Tests use this to hold a request "for ever" and let it go on an event of their own (a lock
refused, a signal handled) instead of racing a timer on a loaded machine.
"""

from __future__ import annotations

import threading
from typing import Any

import requests


def test_emu_clearing_faults_releases_a_held_request(emulator: Any) -> None:
    fault = emulator.inject_fault("dotdigital", method="GET", delay_ms=600_000, times=1)
    answers: list[requests.Response] = []
    s = emulator.dd_session("uk")
    caller = threading.Thread(
        target=lambda: answers.append(s.get(emulator.dd_endpoint + "/v2/account-info", timeout=300))
    )
    caller.start()
    try:
        # The request has arrived and is held once its fault is used up (no answer yet).
        while caller.is_alive():  # (an answer without the hold fails the asserts below)
            faults = emulator.control("dotdigital", "GET", "/__emulator/faults").json()["faults"]
            if next(f for f in faults if f["id"] == fault["id"])["remaining"] == 0:
                break
        assert answers == [] and emulator.requests_log("dotdigital")["requests"] == []
    finally:
        emulator.clear_faults("dotdigital")
    caller.join(timeout=300)
    assert not caller.is_alive()
    assert answers[0].status_code == 200
    assert answers[0].headers["X-Emulator-Delay-Ms"] == "600000"
    assert [r["path"] for r in emulator.requests_log("dotdigital")["requests"]] == [
        "/v2/account-info"
    ]
