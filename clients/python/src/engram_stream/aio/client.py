"""The asyncio client: observation streams, recall, fetch, stats and admin over one channel."""
from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

import grpc

from .._generated import engram_pb2 as pb
from .._generated import engram_pb2_grpc as rpc
from ..channel import TLS, channel_credentials, channel_options
from ..errors import DeadlineExceededError, EngramError, from_rpc_error
from ..types import EngineConfig, FetchResult, RecallResult, Vector, engine_config, fetch_result, recall_result, vector_bytes
from .stream import DEFAULT_REPLY_TIMEOUT_S, AckCallback, AsyncObservationStream


class AsyncEngramClient:
    """`async with AsyncEngramClient("localhost:50051") as client: ...`

    `api_key` is sent as `authorization: Bearer <key>` on every call; `tls` connects with TLS
    (plaintext without it); `direct` asks engines not to forward a request for a space another pod
    owns (it fails with SpaceMovedError naming the owner); `timeout` is the unary calls' deadline."""

    def __init__(self, address: str, *, api_key: Optional[str] = None, tls: Optional[TLS] = None, direct: bool = False,
                 timeout: float = 10.0):
        self.address = address
        options = channel_options(tls)
        self._channel = grpc.aio.secure_channel(address, channel_credentials(tls), options) if tls else grpc.aio.insecure_channel(address, options)
        self._streaming = rpc.StreamingStub(self._channel)
        self._admin = rpc.AdminStub(self._channel)
        self._timeout = timeout
        metadata: List[Tuple[str, str]] = []
        if api_key:
            metadata.append(("authorization", f"Bearer {api_key}"))
        if direct:
            metadata.append(("engram-route", "direct"))
        self._metadata = tuple(metadata)

    async def __aenter__(self) -> "AsyncEngramClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _unary(self, method: Any, request: Any, timeout: Optional[float] = None) -> Any:
        try:
            return await method(request, metadata=self._metadata, timeout=timeout or self._timeout)
        except grpc.aio.AioRpcError as e:
            raise from_rpc_error(e) from None

    async def open_stream(self, memory_space: str, *, tenant: str = "", max_batch: int = 256, max_in_flight: Optional[int] = None,
                          honours_backpressure: bool = True, reply_timeout: float = DEFAULT_REPLY_TIMEOUT_S,
                          on_ack: Optional[AckCallback] = None) -> AsyncObservationStream:
        """Opens a session on a memory space; returns once the engine has answered its init.
        `max_in_flight` (default 8 batches) unaccepted observations make `send` wait; `reply_timeout`
        (seconds, 0 = forever) bounds how long the init or a batch may go unanswered."""
        in_flight = max_in_flight or max_batch * 8
        call = self._streaming.ObserveStream(metadata=self._metadata)
        try:
            await call.write(pb.ClientMessage(init=pb.StreamInit(memory_space=memory_space, tenant=tenant, honours_backpressure=honours_backpressure,
                                                                 max_batch_size=max_batch, client_buffer_size=in_flight)))
            first = await asyncio.wait_for(call.read(), reply_timeout or None)
        except asyncio.TimeoutError:
            call.cancel()
            raise DeadlineExceededError(f"the engine did not answer the stream's init for memory space '{memory_space}' in {reply_timeout} s; "
                                        "the stream is cancelled", "DEADLINE_EXCEEDED", grpc.StatusCode.DEADLINE_EXCEEDED) from None
        except grpc.aio.AioRpcError as e:
            raise from_rpc_error(e) from None
        if first is grpc.aio.EOF or first.WhichOneof("body") != "init_ack":
            call.cancel()
            raise EngramError(f"the engine answered the stream's init with {first!r}, not an init ack", "PROTOCOL_VIOLATION")
        batch = min(max_batch, first.init_ack.capabilities.max_batch_size or max_batch)
        return AsyncObservationStream(call, first.init_ack, memory_space, batch, max_in_flight or batch * 8, reply_timeout, on_ack)

    async def recall(self, memory_space: str, vector: Vector, k: int = 10, *, ef: Optional[int] = None,
                     min_similarity: Optional[float] = None, timeout: Optional[float] = None) -> RecallResult:
        """The k nearest neighbours of `vector` (served on the engine's high-priority lane)."""
        request = pb.RecallRequest(memory_space=memory_space, vector=vector_bytes(vector), k=k, ef=ef or 0,
                                   min_similarity=min_similarity or 0.0, has_min_similarity=min_similarity is not None)
        return recall_result(await self._unary(self._streaming.Recall, request, timeout))

    async def fetch(self, memory_space: str, ids: Sequence[str]) -> FetchResult:
        """Exact lookup by id (1 to 1,000): what the space holds now, and the ids it does not."""
        return fetch_result(await self._unary(self._streaming.Fetch, pb.FetchRequest(memory_space=memory_space, ids=list(ids))))

    async def stats(self) -> pb.StatsResponse:
        """Queue, sessions, counters, spaces and workers, as the engine reports them."""
        response: pb.StatsResponse = await self._unary(self._admin.GetStats, pb.GetStatsRequest())
        return response

    async def get_config(self) -> EngineConfig:
        return engine_config(await self._unary(self._admin.GetConfig, pb.GetConfigRequest()))

    async def apply_config(self, patch: Dict[str, Any], *, dry_run: bool = False, timeout: float = 60.0) -> EngineConfig:
        """Applies a partial config live (any subset of the engine's config keys; unknown keys are
        refused with INVALID_CONFIG); returns the effective config, its hash and generation."""
        request = pb.ApplyConfigRequest(patch_json=json.dumps(patch), dry_run=dry_run)
        return engine_config(await self._unary(self._admin.ApplyConfig, request, timeout))

    async def set_keys(self, document: str) -> str:
        """Installs an API key document (YAML or JSON); returns its hash as the engine reports it."""
        response = await self._unary(self._admin.SetKeys, pb.SetKeysRequest(document=document))
        return str(response.document_hash)
