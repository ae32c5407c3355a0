"""Errors that end a command, each with the exit code of DESIGN.md's command-line contract."""

from __future__ import annotations


class SheetstageError(Exception):
    """A failure the user can act on: the message names the problem and the fix."""

    exit_code = 2


class UsageError(SheetstageError):
    """Bad input, configuration or workspace: exit 2, nothing changed."""

    exit_code = 2


class ConfigError(UsageError):
    pass


class CredentialsError(UsageError):
    pass


class RefusedError(SheetstageError):
    """Role, read-only session, held lock or stale approval: exit 5."""

    exit_code = 5


class LockHeldError(RefusedError):
    pass


class JobFailedError(SheetstageError):
    """The job ran but something failed: exit 1."""

    exit_code = 1
