"""The control middleware over real sockets, with small stand-in service apps.

Stand-ins (not the real services) keep these tests about the middleware only: latency, faults,
request log, control routes. The real services are exercised in test_emu_command.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

from leadsync.emulator.server import ServiceApp, start


def stand_in(service: str) -> ServiceApp:
    """Echoes the path; its own control route /__emulator/ping answers 'pong'."""

    @Request.application
    def app(request: Request) -> Response:
        if request.path == "/__emulator/ping":
            return Response("pong")
        if request.path == "/boom":
            return Response(json.dumps({"boom": True}), status=500, mimetype="application/json")
        body = {"service": service, "path": request.path, "method": request.method}
        return Response(json.dumps(body), mimetype="application/json")

    info: dict[str, Any] = (
        {"accounts": {"uk": {"username": "u", "password": "p"}}}
        if service == "dotdigital"
        else {"access_token": "tok", "users": [], "connected_apps": []}
    )
    return ServiceApp(app=app, info=info)


@pytest.fixture
def servers() -> Iterator[Any]:
    with start({}, services={s: stand_in(s) for s in ("dotdigital", "salesforce")}) as srv:
        yield srv


@pytest.fixture
def slow_servers() -> Iterator[Any]:
    stand_ins = {s: stand_in(s) for s in ("dotdigital", "salesforce")}
    with start({}, latency_ms=5, services=stand_ins) as srv:
        yield srv


def session(srv: Any) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = srv.info["salesforce"]["ca_bundle"]
    return s


def base(srv: Any, service: str) -> str:
    if service == "dotdigital":
        return srv.info["dotdigital"]["endpoint"]
    return srv.info["salesforce"]["instance_url"]


SERVICES = ["dotdigital", "salesforce"]


def test_emu_ready_info_shape(servers: Any) -> None:
    info = servers.info
    assert info["dotdigital"]["endpoint"].startswith("http://127.0.0.1:")
    assert info["salesforce"]["instance_url"].startswith("https://127.0.0.1:")
    assert info["salesforce"]["login_url"] == info["salesforce"]["instance_url"]
    assert info["salesforce"]["ca_bundle"].startswith("/")
    assert info["dotdigital"]["accounts"] == {"uk": {"username": "u", "password": "p"}}


@pytest.mark.parametrize("service", SERVICES)
def test_emu_requests_are_logged_and_counted(servers: Any, service: str) -> None:
    s = session(servers)
    url = base(servers, service)
    assert s.get(url + "/a/b?x=1").json()["path"] == "/a/b"
    s.get(url + "/a/b")
    s.post(url + "/c")
    s.get(url + "/boom")
    log = s.get(url + "/__emulator/requests").json()
    assert log["requests"] == [
        {"method": "GET", "path": "/a/b", "status": 200, "query": "x=1"},
        {"method": "GET", "path": "/a/b", "status": 200, "query": ""},
        {"method": "POST", "path": "/c", "status": 200, "query": ""},
        {"method": "GET", "path": "/boom", "status": 500, "query": ""},
    ]
    # This app names no route patterns, so both maps are keyed by the literal path.
    assert log["counts"] == {"GET /a/b": 2, "POST /c": 1, "GET /boom": 1}
    assert log["counts_by_path"] == log["counts"]


@pytest.mark.parametrize("service", SERVICES)
def test_emu_reset_log_and_control_routes_are_not_logged(servers: Any, service: str) -> None:
    s = session(servers)
    url = base(servers, service)
    s.get(url + "/x")
    assert s.post(url + "/__emulator/reset-log").status_code == 200
    assert s.get(url + "/__emulator/ping").text == "pong"  # service-specific: passes through
    s.get(url + "/__emulator/faults")
    log = s.get(url + "/__emulator/requests").json()
    assert log == {"requests": [], "counts": {}, "counts_by_path": {}}


def test_emu_status_fault_uses_service_error_shape_and_times(servers: Any) -> None:
    s = session(servers)
    sf, dd = base(servers, "salesforce"), base(servers, "dotdigital")
    spec = {"method": "POST", "path_regex": "composite/sobjects", "status": 503, "times": 2}
    r = s.post(sf + "/__emulator/faults", json=spec)
    assert r.status_code == 201, r.text
    url = sf + "/services/data/v59.0/composite/sobjects"
    first, second, third = s.post(url), s.post(url), s.post(url)
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.json() == [
        {"message": "Injected fault: Service Unavailable", "errorCode": "SERVER_UNAVAILABLE"}
    ]
    assert s.get(url).status_code == 200  # other method: no match
    assert s.get(sf + "/__emulator/faults").json()["faults"][0]["remaining"] == 0

    s.post(dd + "/__emulator/faults", json={"path_regex": "^/v2/", "status": 429, "times": 1})
    r = s.get(dd + "/v2/address-books")
    assert r.status_code == 429
    assert r.json()["message"].endswith("ERROR_RATE_LIMIT_EXCEEDED")
    log = s.get(sf + "/__emulator/requests").json()
    assert [e["status"] for e in log["requests"]] == [503, 503, 200, 200]


def test_emu_fault_with_body_headers_and_unlimited_times(servers: Any) -> None:
    s = session(servers)
    dd = base(servers, "dotdigital")
    spec = {
        "status": 400,
        "path_regex": "contacts",
        "body": {"message": "nope ERROR_X"},
        "headers": {"Retry-After": "3"},
    }
    assert s.post(dd + "/__emulator/faults", json=spec).status_code == 201
    for _ in range(3):
        r = s.get(dd + "/v2/contacts")
        assert r.status_code == 400
        assert r.json() == {"message": "nope ERROR_X"}
        assert r.headers["Retry-After"] == "3"
    assert s.delete(dd + "/__emulator/faults").status_code == 200
    assert s.get(dd + "/v2/contacts").status_code == 200


@pytest.mark.parametrize("service", SERVICES)
def test_emu_delay_fault_then_service_answers(servers: Any, service: str) -> None:
    s = session(servers)
    url = base(servers, service)
    s.post(url + "/__emulator/faults", json={"path_regex": "slow", "delay_ms": 20, "times": 1})
    r = s.get(url + "/slow")
    assert r.status_code == 200
    assert r.json()["path"] == "/slow"
    assert r.headers["X-Emulator-Delay-Ms"] == "20"
    assert "X-Emulator-Delay-Ms" not in s.get(url + "/slow").headers


@pytest.mark.parametrize("service", SERVICES)
def test_emu_drop_connection_gives_client_connection_error(servers: Any, service: str) -> None:
    s = session(servers)
    url = base(servers, service)
    s.post(
        url + "/__emulator/faults",
        json={"path_regex": "^/drop", "drop_connection": True, "times": 1},
    )
    with pytest.raises(requests.ConnectionError):
        s.get(url + "/drop")
    assert s.get(url + "/drop").status_code == 200  # used up; the server still serves
    log = s.get(url + "/__emulator/requests").json()
    assert [(e["path"], e["status"]) for e in log["requests"]] == [("/drop", 0), ("/drop", 200)]


@pytest.mark.parametrize(
    "spec",
    [
        {"status": 503, "times": 0},
        {"status": "503"},
        {"path_regex": "("},
        {"path_regex": "x"},
        {"status": 503, "colour": "red"},
        [1, 2],
    ],
)
def test_emu_bad_fault_is_refused(servers: Any, spec: Any) -> None:
    s = session(servers)
    r = s.post(base(servers, "salesforce") + "/__emulator/faults", json=spec)
    assert r.status_code == 400
    assert r.json()["error"]


def test_emu_latency_applies_to_service_not_control_routes(slow_servers: Any) -> None:
    s = session(slow_servers)
    for service in SERVICES:
        url = base(slow_servers, service)
        assert s.get(url + "/x").headers["X-Emulator-Delay-Ms"] == "5"
        assert "X-Emulator-Delay-Ms" not in s.get(url + "/__emulator/requests").headers
    assert slow_servers.info["latency_ms"] == 5


def test_emu_concurrent_requests_are_all_counted(servers: Any) -> None:
    url = base(servers, "salesforce")
    errors: list[BaseException] = []

    def worker() -> None:
        s = session(servers)
        try:
            for _ in range(10):
                assert s.get(url + "/same").status_code == 200
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    log = session(servers).get(url + "/__emulator/requests").json()
    assert log["counts"] == {"GET /same": 80}


def test_emu_stop_releases_ports_and_ca_file() -> None:
    from pathlib import Path

    srv = start({}, services={s: stand_in(s) for s in SERVICES})
    ca = Path(srv.info["salesforce"]["ca_bundle"])
    assert ca.is_file()
    srv.stop()
    srv.stop()  # idempotent
    assert not ca.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.info["dotdigital"]["endpoint"] + "/x", timeout=5)


@pytest.mark.parametrize("service", SERVICES)
def test_emu_keeps_a_connection_alive_across_requests(servers: Any, service: str) -> None:
    """Salesforce and Dotdigital keep HTTP/1.1 connections alive; so do the emulators, so a
    client pays one handshake per connection, not per request, even after a body the service
    did not read and an error answer."""
    s = session(servers)
    url = base(servers, service)
    answers = [
        s.get(f"{url}/one"),
        s.post(f"{url}/two", data=b"x" * 100_000),  # a body the app never reads
        s.get(f"{url}/boom"),
        s.get(f"{url}/three"),
    ]
    assert [r.status_code for r in answers] == [200, 200, 500, 200]
    assert answers[-1].json()["path"] == "/three"  # the unread body did not leak into it
    assert [r.headers.get("Connection", "keep-alive") for r in answers] == ["keep-alive"] * 4
