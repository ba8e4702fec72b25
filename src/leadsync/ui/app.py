"""The WSGI app behind `leadsync ui`: werkzeug routing, one handler per page, read-only.

Why werkzeug: it is already a dependency (the emulators run on it), it is the Pallets
project's well-kept WSGI toolkit (routing, request parsing, a threaded development server that
is fine for one local user), and it adds no framework the rest of leadsync would not use.

Safety, beyond the escaping the templates do: only GET and HEAD; a Content-Security-Policy
that allows no script at all and nothing from another origin (the pages need neither: the
chart is server-side SVG, the filters are a plain GET form); no caching (the pages carry
personal data); and, when bound to loopback, requests must name a loopback host, so a web page
the user visits cannot read the audit through DNS rebinding.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from leadsync.state.errors import StateError
from leadsync.ui import overview, records, runs
from leadsync.ui.render import favicon, render, stylesheet
from leadsync.ui.source import StateSource

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")

URLS = Map(
    [
        Rule("/", endpoint="overview"),
        Rule("/runs", endpoint="runs"),
        Rule("/runs/<run_id>", endpoint="run"),
        Rule("/records", endpoint="records"),
        Rule("/records.csv", endpoint="records_csv"),
        Rule("/history", endpoint="history"),
        Rule("/static/leadsync.css", endpoint="css"),
        Rule("/static/favicon.svg", endpoint="favicon"),
        Rule("/favicon.ico", endpoint="favicon"),
    ],
    strict_slashes=False,
)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


class AuditApp:
    """Serves the audit pages of one state. `loopback_only`: refuse other Host headers."""

    def __init__(self, source: StateSource, *, loopback_only: bool = True) -> None:
        self.source = source
        self.loopback_only = loopback_only

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        response.headers.update(
            {
                "Content-Security-Policy": CSP,
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            }
        )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if self.loopback_only and not is_loopback(request.host.rsplit(":", 1)[0]):
            return self.error(400, "Wrong address", "This audit answers only on 127.0.0.1.")
        if request.method not in ("GET", "HEAD"):
            return self.error(405, "Read-only", "The sync audit only reads; it changes nothing.")
        try:
            endpoint, values = URLS.bind_to_environ(request.environ).match()
            return getattr(self, f"on_{endpoint}")(request, **values)
        except NotFound:
            return self.error(404, "Not found", f"There is no page at {request.path}.")
        except HTTPException as exc:
            return self.error(exc.code or 400, "Not possible", str(exc.description))
        except records.FilterError as exc:
            return self.error(400, "That filter does not work", str(exc))
        except StateError as exc:
            self.source.failed()
            return self.error(503, "The state store cannot be read", str(exc))

    # --- pages --------------------------------------------------------------------------
    def page(
        self, template: str, active: str, title: str, status: int = 200, **ctx: Any
    ) -> Response:
        html = render(
            template,
            title=title,
            active=active,
            standalone=False,
            where=self.source.describe(),
            **ctx,
        )
        return Response(html, status=status, mimetype="text/html")

    def error(self, status: int, heading: str, message: str) -> Response:
        kind = "bad" if status >= 500 else "warn"
        return self.page(
            "error.html", "", heading, status, heading=heading, message=message, kind=kind
        )

    def on_overview(self, _request: Request) -> Response:
        ov = overview.read_overview(self.source, self.source.store())
        return self.page("overview.html", "/", "Overview", ov=ov)

    def on_runs(self, _request: Request) -> Response:
        return self.page("runs.html", "/runs", "Runs", page=runs.read_runs(self.source.store()))

    def on_run(self, _request: Request, run_id: str) -> Response:
        page = runs.read_run(self.source.store(), run_id)
        if page is None:
            return self.error(404, "No such run", f"The state holds no run {run_id!r}.")
        return self.page("run.html", "/runs", f"Run {run_id}", page=page)

    def on_records(self, request: Request) -> Response:
        flt = records.parse_filter(request.args)
        page = records.read_page(self.source.store(), flt)
        return self.page("records.html", "/records", "Records", page=page)

    def on_records_csv(self, request: Request) -> Response:
        flt = records.parse_filter(request.args)
        store = self.source.store()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        name = f"leadsync-records-{flt.state or 'all'}-{stamp}.csv"
        return Response(
            records.csv_lines(store, flt),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def on_history(self, _request: Request) -> Response:
        rows = overview.read_history(self.source.store())
        return self.page("history.html", "/history", "History", rows=rows)

    def on_css(self, _request: Request) -> Response:
        return Response(stylesheet(), mimetype="text/css")

    def on_favicon(self, _request: Request) -> Response:
        return Response(favicon(), mimetype="image/svg+xml")
