"""leadsync.logs: what a log line may show of a URL, and the mask that backs it up."""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stderr

from leadsync import logs


def test_an_endpoint_keeps_method_host_and_path_only():
    url = "https://ci:hunter2@acme.my.salesforce.com:8443/services/data/v61.0/query?q=SELECT+Email"
    assert logs.endpoint("get", url) == (
        "GET https://acme.my.salesforce.com:8443/services/data/v61.0/query"
    )


def test_credential_shapes_are_masked():
    line = (
        "Authorization: Bearer 00D8d0000000001!AQ0AQxyz.token "
        "sid 00D8d0000000001!AQ0AQxyz.token2 "
        "postgresql://leadsync:pg-Secret9@db:5432/ls password=pg-Other9 token: abc123def "
        "Basic YXBpdXNlcjpwYXNzd29yZA=="
    )
    masked = logs.mask(line)
    for secret in ("AQ0AQxyz", "pg-Secret9", "pg-Other9", "abc123def", "YXBpdXNlcjpw"):
        assert secret not in masked, masked
    assert "postgresql://leadsync:(sensitive)@db:5432/ls" in masked
    assert "request id 3f2a9c" in logs.mask("503, request id 3f2a9c")  # ids stay readable
    assert logs.mask("Basic authentication refused") == "Basic authentication refused"


def test_levels_and_the_handler_follow_each_invocation():
    logger = logs.get("test")
    err = io.StringIO()
    with redirect_stderr(err):
        logs.configure(env={"LEADSYNC_LOG": "info"})
        logger.info("retrying with password=s3cr3t-x")
        logger.debug("not shown")
        logs.configure(env={})
        logger.info("not shown either")
        logs.configure(verbose=True, env={"LEADSYNC_LOG": "error"})
        logger.debug("shown")
    logs.configure(env={})
    assert err.getvalue() == "info: retrying with password=(sensitive)\ndebug: shown\n"
    assert len(logging.getLogger("leadsync").handlers) == 1


def test_json_lines_carry_run_account_and_book_and_stay_masked():
    import json

    logger = logs.get("test")
    err = io.StringIO()
    with redirect_stderr(err):
        logs.configure(env={}, fmt="json")  # json: info unless LEADSYNC_LOG says otherwise
        with logs.context(run_id="r-1"), logs.context(account="uk"):
            with logs.context(book="Webinar signups"):
                logger.info("retrying with password=s3cr3t-x")
            logs.event(logger, logging.WARNING, "account_skipped_locked", "skip", held_by="x")
        logger.debug("not shown")
    logs.configure(env={})
    first, second = (json.loads(line) for line in err.getvalue().splitlines())
    assert first["event"] == "test" and first["level"] == "info"
    assert (first["run_id"], first["account"], first["book"]) == ("r-1", "uk", "Webinar signups")
    assert first["message"] == "retrying with password=(sensitive)"
    assert second["event"] == "account_skipped_locked" and second["held_by"] == "x"
    assert second["book"] is None and second["account"] == "uk"
    assert set(first) >= {"time", "level", "event", "run_id", "account", "book", "message"}


def test_verbose_and_log_format_keep_each_other_whatever_their_order():
    logger = logs.get("test")
    for steps in (({"verbose": True}, {"fmt": "json"}), ({"fmt": "json"}, {"verbose": True})):
        err = io.StringIO()
        with redirect_stderr(err):
            logs.configure(env={})
            for change in steps:
                logs.reconfigure(**change)
            logger.debug("deep")
        assert '"message": "deep"' in err.getvalue(), steps
    err = io.StringIO()
    with redirect_stderr(err):
        logs.configure(env={"LEADSYNC_LOG_FORMAT": "xml", "LEADSYNC_LOG": "warning"})
    logs.configure(env={})
    assert err.getvalue() == (
        "warning: LEADSYNC_LOG_FORMAT='xml' is not a log format (text, json); using text\n"
    )
    assert not logs.json_lines()
