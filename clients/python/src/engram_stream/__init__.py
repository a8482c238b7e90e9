"""Python client for Engram Stream: observation streams with flow control, recall, fetch and
admin, as a blocking API (`EngramClient`) and an asyncio one (`engram_stream.aio.AsyncEngramClient`)."""
from .aio import AsyncEngramClient, AsyncObservationStream, AsyncReceipt
from .channel import TLS
from .client import EngramClient, ObservationStream, Receipt
from .errors import (
    DeadlineExceededError,
    EngramError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ObservationRejected,
    PermissionDeniedError,
    ResourceExhaustedError,
    SpaceMovedError,
    StreamFailed,
    UnauthenticatedError,
    UnavailableError,
)
from .types import AckEvent, EngineConfig, FetchResult, Hit, Observation, RecallResult, StoredObservation, StreamCounts

__all__ = [
    "AckEvent", "AsyncEngramClient", "AsyncObservationStream", "AsyncReceipt", "DeadlineExceededError", "EngineConfig",
    "EngramClient", "EngramError", "FailedPreconditionError", "FetchResult", "Hit", "InternalError", "InvalidArgumentError",
    "NotFoundError", "Observation", "ObservationRejected", "ObservationStream", "PermissionDeniedError", "Receipt", "RecallResult",
    "ResourceExhaustedError", "SpaceMovedError", "StoredObservation", "StreamCounts", "StreamFailed", "TLS", "UnauthenticatedError",
    "UnavailableError",
]
