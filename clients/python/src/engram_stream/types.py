"""What the client takes and answers, as plain typed values (not protobuf messages)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from ._generated import engram_pb2 as pb

#: A vector: a 1-D numpy array (float32 little-endian and contiguous goes to the wire without a
#: conversion), or a sequence of numbers.
Vector = Union[np.ndarray, Sequence[float]]

_WIRE_DTYPE = np.dtype("<f4")


def vector_bytes(vector: Vector) -> bytes:
    """Raw little-endian float32, the wire's encoding. A contiguous `<f4` array is copied once, into
    the bytes protobuf needs; anything else is converted first."""
    array = vector if isinstance(vector, np.ndarray) and vector.dtype == _WIRE_DTYPE else np.asarray(vector, dtype=_WIRE_DTYPE)
    if array.ndim != 1:
        raise ValueError(f"a vector must be one-dimensional, got shape {array.shape}")
    return np.ascontiguousarray(array).tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray:
    """A read-only view of the wire bytes as float32 (no copy)."""
    return np.frombuffer(data, dtype=_WIRE_DTYPE)


@dataclass
class Observation:
    """One observation to stream: observing an id again replaces it."""

    id: str
    embedding: Vector
    content: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: milliseconds since the epoch as the client saw the event (default: when it is sent)
    timestamp_ms: Optional[int] = None


@dataclass(frozen=True)
class Hit:
    id: str
    similarity: float
    distance: float
    content: str
    metadata: Dict[str, str]


@dataclass(frozen=True)
class RecallResult:
    hits: List[Hit]
    #: how many vectors the space holds
    space_size: int

    @property
    def ids(self) -> List[str]:
        return [h.id for h in self.hits]


@dataclass(frozen=True)
class StoredObservation:
    id: str
    #: as stored (normalised to unit length under cosine), a read-only float32 view
    embedding: np.ndarray
    content: str
    metadata: Dict[str, str]


@dataclass(frozen=True)
class FetchResult:
    observations: List[StoredObservation]
    #: requested ids the space does not hold (accepted but not yet indexed ones are not held yet)
    missing_ids: List[str]


@dataclass(frozen=True)
class EngineConfig:
    config: Dict[str, Any]
    hash: str
    generation: int
    #: background index rebuilds still to do (a new M, efConstruction or backend)
    rebuilds_pending: int
    #: live reshards still to do (a new shard count)
    reshards_pending: int


@dataclass(frozen=True)
class AckEvent:
    """One acknowledgement range as the engine sent it, for `on_ack` callbacks."""

    status: str  # ACCEPTED | INDEXED | REJECTED
    first_sequence: int
    last_sequence: int
    code: str  # the RejectCode for REJECTED, else REJECT_CODE_UNSPECIFIED
    reason: str
    retry_after_ms: int


@dataclass
class StreamCounts:
    sent: int = 0
    accepted: int = 0
    indexed: int = 0
    #: finally refused (invalid, over quota, failed to index)
    rejected: int = 0
    #: sent again after a retryable refusal
    resent: int = 0
    #: retryable refusals received, by RejectCode
    refusals: Dict[str, int] = field(default_factory=dict)


def recall_result(response: pb.RecallResponse) -> RecallResult:
    hits = [Hit(h.id, h.similarity, h.distance, h.content, dict(h.metadata)) for h in response.hits]
    return RecallResult(hits, response.space_size)


def fetch_result(response: pb.FetchResponse) -> FetchResult:
    stored = [StoredObservation(o.id, vector_from_bytes(o.embedding), o.content, dict(o.metadata)) for o in response.observations]
    return FetchResult(stored, list(response.missing_ids))


def engine_config(response: pb.ConfigResponse) -> EngineConfig:
    return EngineConfig(json.loads(response.config_json), response.config_hash, response.generation,
                        response.index_rebuild.spaces_pending, response.reshard.spaces_pending)
