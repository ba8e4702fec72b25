"""The daily API request counter and the Sforce-Limit-Info header value."""

from __future__ import annotations

from leadsync.emulator.salesforce.exceptions import request_limit_exceeded
from leadsync.emulator.salesforce.models.base import OrgState


class ApiLimits(OrgState):
    """Counts API calls against the org's daily allowance."""

    def count_request(self) -> None:
        with self.lock:
            if self.api_used >= self.api_total:
                raise request_limit_exceeded()
            self.api_used += 1

    def set_limits(self, used: int | None, total: int | None) -> None:
        with self.lock:
            if used is not None:
                self.api_used = int(used)
            if total is not None:
                self.api_total = int(total)

    def limit_info(self) -> str:
        with self.lock:
            return f"api-usage={self.api_used}/{self.api_total}"
