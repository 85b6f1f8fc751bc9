# SPDX-License-Identifier: Apache-2.0
"""Status codes and the exception hierarchy."""

from __future__ import annotations

import enum
from typing import Any, Dict, Optional, Tuple, Type, Union

from ._lib import lib

__all__ = [
    "Status",
    "Error",
    "InvalidArgumentError",
    "ConfigError",
    "BadRequestError",
    "NoBackendError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "UpstreamError",
    "BadResponseError",
    "APIConnectionError",
    "APITimeoutError",
    "TransportError",
    "StoppedError",
    "NotSupportedError",
    "CanceledError",
    "BudgetExceededError",
    "strerror",
    "status_name",
    "is_retryable",
]


class Status(enum.IntEnum):
    """aigw_status (status.h). Codes are only ever added, never renumbered."""

    OK = 0
    EINVAL = 1
    ENOMEM = 2
    ECONFIG = 3
    EIO = 4
    EBADREQUEST = 5
    ENOBACKEND = 6
    EAUTH = 7
    EPERMISSION = 8
    ENOTFOUND = 9
    ERATELIMIT = 10
    EUPSTREAM = 11
    EBADRESPONSE = 12
    ETRUNCATED = 13
    ECONNECT = 14
    ETIMEOUT = 15
    ETRANSPORT = 16
    ESTOPPED = 17
    ENOTSUPPORTED = 18
    EUPSTREAM_STATUS = 19
    EINTERNAL = 20
    ECANCELED = 21
    EBUDGET = 22


def _text(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8", "replace")


def strerror(status: int) -> str:
    """A short description of a status code, e.g. "rate limited"."""
    return _text(lib.aigw_strerror(int(status))) or ""


def status_name(status: int) -> str:
    """The symbolic name of a status code, e.g. "AIGW_ERATELIMIT"."""
    return _text(lib.aigw_status_name(int(status))) or ""


def is_retryable(status: int) -> bool:
    """True when trying the same call again later can succeed."""
    return bool(lib.aigw_status_is_retryable(int(status)))


class Error(Exception):
    """A failed libaigw call.

    Attributes:
        status       the aigw_status code (int; a Status member when known)
        status_name  its symbolic name, e.g. "AIGW_ERATELIMIT"
        message      one human-readable line
        http_status  the upstream HTTP status, or 0 when there was none
        provider     the backend the failure came from, or None
        body         the provider's own error body, verbatim, or None
        json         the error in OpenAI's shape ({"error": {...}}), as text, or None
        retryable    True when trying again later can succeed
        info         what the call did (a dict; Client.call() only, else None)
        retry_after  seconds until a call a budget refused could fit (-1:
                     never), for BudgetExceededError from Client.call(); else None
    """

    def __init__(
        self,
        status: int,
        message: Optional[str] = None,
        http_status: int = 0,
        provider: Optional[str] = None,
        body: Optional[str] = None,
        json: Optional[str] = None,
    ) -> None:
        st: Union[Status, int]
        try:
            st = Status(status)
        except ValueError:
            st = int(status)
        self.status: Union[Status, int] = st
        status = st
        self.status_name: str = status_name(status)
        self.message: str = message if message is not None else strerror(status)
        self.http_status: int = int(http_status or 0)
        self.provider: Optional[str] = provider
        self.body: Optional[str] = body
        self.json: Optional[str] = json
        self.retryable: bool = is_retryable(status)
        #: What the call did (Client.call() only; else None): see Client.call.
        self.info: Optional[Dict[str, Any]] = None
        #: Seconds until a refused call could fit its budget (-1: never), when known.
        self.retry_after: Optional[float] = None
        super().__init__(self.message)

    def __str__(self) -> str:
        s = "%s: %s" % (self.status_name, self.message)
        if self.http_status:
            s += " (HTTP %d" % self.http_status
            s += ", %s)" % self.provider if self.provider else ")"
        return s

    def __repr__(self) -> str:
        return "%s(status=%s, message=%r, http_status=%d, provider=%r)" % (
            type(self).__name__,
            self.status_name,
            self.message,
            self.http_status,
            self.provider,
        )

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        return (
            _rebuild,
            (int(self.status), self.message, self.http_status, self.provider, self.body, self.json),
        )


class InvalidArgumentError(Error, ValueError):
    """AIGW_EINVAL."""


class ConfigError(Error):
    """AIGW_ECONFIG: the configuration is invalid."""


class BadRequestError(Error):
    """AIGW_EBADREQUEST: the request is invalid."""


class NoBackendError(Error):
    """AIGW_ENOBACKEND: no backend serves this model."""


class AuthenticationError(Error):
    """AIGW_EAUTH."""


class PermissionDeniedError(Error):
    """AIGW_EPERMISSION."""


class NotFoundError(Error):
    """AIGW_ENOTFOUND."""


class RateLimitError(Error):
    """AIGW_ERATELIMIT: rate limited (or a budget is exhausted)."""


class UpstreamError(Error):
    """AIGW_EUPSTREAM / AIGW_EUPSTREAM_STATUS: the upstream server failed."""


class BadResponseError(Error):
    """AIGW_EBADRESPONSE / AIGW_ETRUNCATED: the upstream response is malformed or cut."""


class APIConnectionError(Error):
    """AIGW_ECONNECT: could not connect to the upstream."""


class APITimeoutError(Error):
    """AIGW_ETIMEOUT."""


class TransportError(Error):
    """AIGW_ETRANSPORT."""


class StoppedError(Error):
    """AIGW_ESTOPPED: the stream was stopped by the callback."""


class NotSupportedError(Error):
    """AIGW_ENOTSUPPORTED."""


class CanceledError(Error):
    """AIGW_ECANCELED: the call was canceled."""


class BudgetExceededError(RateLimitError):
    """AIGW_EBUDGET: a budget of the config refused the call before any
    upstream request (HTTP 429). The message names the budget. When the
    error comes from Client.call(), `info` holds the call info and
    `retry_after` the seconds until the call could fit (None: unknown;
    -1: it never can)."""


_CLASSES: Dict[int, Type[Error]] = {
    Status.EINVAL: InvalidArgumentError,
    Status.ECONFIG: ConfigError,
    Status.EBADREQUEST: BadRequestError,
    Status.ENOBACKEND: NoBackendError,
    Status.EAUTH: AuthenticationError,
    Status.EPERMISSION: PermissionDeniedError,
    Status.ENOTFOUND: NotFoundError,
    Status.ERATELIMIT: RateLimitError,
    Status.EUPSTREAM: UpstreamError,
    Status.EUPSTREAM_STATUS: UpstreamError,
    Status.EBADRESPONSE: BadResponseError,
    Status.ETRUNCATED: BadResponseError,
    Status.ECONNECT: APIConnectionError,
    Status.ETIMEOUT: APITimeoutError,
    Status.ETRANSPORT: TransportError,
    Status.ESTOPPED: StoppedError,
    Status.ENOTSUPPORTED: NotSupportedError,
    Status.ECANCELED: CanceledError,
    Status.EBUDGET: BudgetExceededError,
}


def make_error(
    status: int,
    message: Optional[str] = None,
    http_status: int = 0,
    provider: Optional[str] = None,
    body: Optional[str] = None,
    json: Optional[str] = None,
) -> Error:
    """The Error subclass for `status`."""
    cls = _CLASSES.get(status, Error)
    return cls(status, message, http_status, provider, body, json)


def _rebuild(*args: Any) -> Error:
    return make_error(*args)


def error_from(status: int, err_ptr: Optional[int]) -> Error:
    """Builds the exception for a failed call from its aigw_error* (a
    c_void_p value or None), which stays the library's (an async call's
    `done` hands one that is valid only during the callback)."""
    if not err_ptr:
        return make_error(status)
    return make_error(
        lib.aigw_error_status(err_ptr) or status,
        _text(lib.aigw_error_message(err_ptr)),
        lib.aigw_error_http_status(err_ptr),
        _text(lib.aigw_error_provider(err_ptr)),
        _text(lib.aigw_error_body(err_ptr)),
        _text(lib.aigw_error_json(err_ptr)),
    )


def take_error(status: int, err_ptr: Optional[int]) -> Error:
    """Builds the exception for a failed call from its aigw_error* (a c_void_p
    value or None) and frees the error object."""
    try:
        return error_from(status, err_ptr)
    finally:
        if err_ptr:
            lib.aigw_error_free(err_ptr)
