"""Errors raised by huaxiang.

Every error says *what* went wrong, *where* (file, key, column, row) and *how*
to fix it. Subclasses mix in the matching builtin so callers may catch either
``HuaxiangError`` or the builtin (``ValueError``, ``FileNotFoundError`` …).

Examples
--------
>>> from huaxiang.errors import ConfigError
>>> try:
...     raise ConfigError("sources[0].format: 'xls' is not supported; use one of csv, parquet")
... except ValueError as exc:
...     print(type(exc).__name__)
ConfigError
"""

from __future__ import annotations


class HuaxiangError(Exception):
    """Base class of every error huaxiang raises on purpose."""


class ConfigError(ValueError, HuaxiangError):
    """A workspace configuration (``huaxiang.yaml``) is invalid."""


class SchemaError(ValueError, HuaxiangError):
    """Data does not fit a canonical table's schema."""


class SourceError(HuaxiangError):
    """A source cannot be read at all (missing file, wrong encoding, unreachable database)."""


class SourceNotFoundError(FileNotFoundError, SourceError):
    """A source file or folder does not exist."""


class EngineError(RuntimeError, HuaxiangError):
    """The engine (DuckDB, Spark) failed; the message carries the SQL that failed."""


class UnsupportedOperationError(NotImplementedError, HuaxiangError):
    """An engine declares it cannot do an operation (see ``Engine.unsupported``)."""


class WorkspaceError(ValueError, HuaxiangError):
    """A workspace folder is missing, incomplete or not built yet."""


class RuleError(ValueError, HuaxiangError):
    """A user-written rule (tag, filter) cannot be parsed or refers to unknown names."""


class ModelError(RuntimeError, HuaxiangError):
    """A model failed to fit (e.g. did not converge) or was used before ``fit``."""


class PersonNotFoundError(WorkspaceError, LookupError):
    """No person matches a lookup (person id, phone, e-mail, source id, user id or anonymous id).

    A :class:`WorkspaceError` as well, so callers that caught that before keep working; a
    :class:`LookupError` so a service can answer 404 without knowing huaxiang's errors.
    """


class ArgumentError(ValueError, HuaxiangError):
    """An argument of a command or method is out of range or of the wrong kind (e.g. ``show -n -1``)."""


class WorkspaceBusyError(WorkspaceError):
    """Another process holds the workspace (a build, the service): says what runs, its pid and since when."""


class AmbiguousPersonError(WorkspaceError):
    """A lookup (phone, e-mail, user id …) names several persons: the message lists them; ask by person id."""
