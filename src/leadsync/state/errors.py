"""Errors of the state store that the user can act on (exit 1, one line, no traceback)."""

from __future__ import annotations

from leadsync.errors import LeadsyncError


class StateError(LeadsyncError):
    """The state store cannot be opened or used (unreachable server, unwritable path, ...)."""

    error_code = "state_unavailable"


class StateNotEmpty(StateError):
    """A copy target already holds state; copying over it would silently fork two histories."""
