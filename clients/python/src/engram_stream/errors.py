"""Typed errors. Every error an engine answers carries its stable code (`engram-error-code`, the
same catalogue as the engine's `errors.ts`): match on `code`, never on the message."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import grpc


class EngramError(Exception):
    """An engine's refusal, or a failure of the channel. `code` is the engine's reason code (e.g.
    INVALID_VECTOR, SPACE_NOT_FOUND), or the gRPC status name when the engine gave none."""

    def __init__(self, message: str, code: str, status: Optional[grpc.StatusCode] = None, details: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidArgumentError(EngramError):
    """The request is malformed (bad space id, vector, k, config key ...)."""


class NotFoundError(EngramError):
    """A memory space the engine does not hold."""


class UnauthenticatedError(EngramError):
    """No API key, or an unknown, revoked or expired one."""


class PermissionDeniedError(EngramError):
    """The key's role or tenant does not allow this."""


class FailedPreconditionError(EngramError):
    """The engine's state refuses it (a config that is not live, fault injection disabled ...)."""


class SpaceMovedError(FailedPreconditionError):
    """Another pod of the stream owns the space (only with `direct=True`): `owner_address` is it."""

    @property
    def owner_address(self) -> str:
        return self.details.get("engram-owner-address", "")


class ResourceExhaustedError(EngramError):
    """A capacity limit: the recall lane is full, a space quota, memory."""


class UnavailableError(EngramError):
    """The engine is shutting down, cannot write its data, or cannot be reached."""


class DeadlineExceededError(EngramError):
    """The call's deadline passed before the engine answered."""


class InternalError(EngramError):
    """A failure inside the engine (a worker failed, ...)."""


_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.INTERNAL: InternalError,
}


def from_rpc_error(error: grpc.RpcError) -> EngramError:
    """The typed error for a failed call (sync or asyncio), with the engine's code and metadata."""
    status = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else None) or str(status)
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    details = {key: value for key, value in (trailers or ()) if isinstance(value, str)}
    code = details.get("engram-error-code") or status.name
    cls = SpaceMovedError if code == "SPACE_MOVED" else _BY_STATUS.get(status, EngramError)
    return cls(message, code, status, details)


class ObservationRejected(EngramError):
    """The engine finally refused an observation: `code` is its RejectCode (REJECT_INVALID_OBSERVATION,
    REJECT_QUOTA_EXCEEDED, REJECT_INDEX_FAILED ...), `reason` its explanation. Retryable refusals
    (backpressure, rate limit, a space moving) never surface as this: the stream resends them."""

    def __init__(self, code: str, reason: str, observation_id: str, sequence: int):
        super().__init__(f"observation '{observation_id}' (sequence {sequence}): {reason}", code)
        self.reason = reason
        self.observation_id = observation_id
        self.sequence = sequence


class StreamFailed(EngramError):
    """The stream ended before the engine accepted everything given to it (the engine stopped,
    the connection failed, a batch went unanswered). `unaccepted_ids` are the observations to send
    again on a new stream; resending an id the engine did accept is harmless (an upsert by id)."""

    def __init__(self, message: str, code: str, unaccepted_ids: Sequence[str] = (), cause: Optional[BaseException] = None,
                 status: Optional[grpc.StatusCode] = None, details: Optional[Dict[str, str]] = None):
        super().__init__(message, code, status, details)
        self.unaccepted_ids: List[str] = list(unaccepted_ids)
        self.__cause__ = cause
