"""The blocking client. It runs the asyncio client on an event loop of its own, in one background
thread per client, so both APIs share one implementation of the stream protocol; each call hands
its work to that thread and waits. `on_ack` callbacks run on that thread: keep them short."""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar

from ._generated import engram_pb2 as pb
from .aio.client import AsyncEngramClient
from .aio.stream import DEFAULT_REPLY_TIMEOUT_S, AckCallback, AsyncObservationStream, Outcome, ReceiptBase, Tracked
from .channel import TLS
from .types import EngineConfig, FetchResult, RecallResult, StreamCounts, Vector

T = TypeVar("T")


class _IoThread:
    """An event loop in a daemon thread, and a way to run a coroutine on it and wait."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="engram-stream-io", daemon=True)
        self._thread.start()

    def run(self, work: Callable[[], Awaitable[T]], timeout: Optional[float] = None) -> T:
        async def call() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Receipt(ReceiptBase["concurrent.futures.Future[None]"]):
    """`receipt.accepted.result()`, `receipt.indexed.result()`: concurrent futures that raise
    `ObservationRejected` or `StreamFailed`."""

    __slots__ = ("_loop",)

    def __init__(self, tracked: Tracked, loop: asyncio.AbstractEventLoop):
        super().__init__(tracked)
        self._loop = loop

    def _future_of(self, outcome: Outcome) -> "concurrent.futures.Future[None]":
        future: concurrent.futures.Future[None] = concurrent.futures.Future()

        def settle(error: Optional[BaseException]) -> None:
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

        if self._loop.is_closed():
            outcome.on_done(settle)  # the client is closed: every outcome is final, nothing changes it
        else:
            # outcomes change on the I/O thread only: register there, so no ack slips in between
            self._loop.call_soon_threadsafe(outcome.on_done, settle)
        return future


class ObservationStream:
    """The blocking face of an AsyncObservationStream (open it with `EngramClient.open_stream`)."""

    def __init__(self, stream: AsyncObservationStream, io: _IoThread):
        self._stream, self._io = stream, io

    def __enter__(self) -> "ObservationStream":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.cancel()

    @property
    def session_id(self) -> str:
        return self._stream.session_id

    @property
    def capabilities(self) -> pb.Capabilities:
        return self._stream.capabilities

    @property
    def counts(self) -> StreamCounts:
        return self._stream.counts

    def send(self, id: str, embedding: Vector, *, content: str = "", metadata: Optional[Mapping[str, str]] = None,
             timestamp_ms: Optional[int] = None) -> Receipt:
        """Queues one observation; blocks while the stream holds `max_in_flight` unaccepted ones."""
        receipt = self._io.run(lambda: self._stream.send(id, embedding, content=content, metadata=metadata, timestamp_ms=timestamp_ms))
        return Receipt(receipt._tracked, self._io.loop)

    def send_many(self, ids: Sequence[str], embeddings: Sequence[Vector], *, contents: Optional[Sequence[str]] = None,
                  metadatas: Optional[Sequence[Mapping[str, str]]] = None) -> List[Receipt]:
        """Sends rows of a 2-D array under the given ids, in one hand-off to the I/O thread."""
        receipts = self._io.run(lambda: self._stream.send_many(ids, embeddings, contents=contents, metadatas=metadatas))
        return [Receipt(r._tracked, self._io.loop) for r in receipts]

    def settled(self) -> None:
        self._io.run(self._stream.settled)

    def close(self, drain: bool = True) -> StreamCounts:
        return self._io.run(lambda: self._stream.close(drain))

    def cancel(self) -> None:
        self._io.loop.call_soon_threadsafe(self._stream.cancel)

    def unaccepted_ids(self) -> List[str]:
        return self._io.run(self._unaccepted)

    async def _unaccepted(self) -> List[str]:
        return self._stream.unaccepted_ids()


class EngramClient:
    """`with EngramClient("localhost:50051") as client: ...`: the same calls as AsyncEngramClient,
    blocking. Options as there."""

    def __init__(self, address: str, *, api_key: Optional[str] = None, tls: Optional[TLS] = None, direct: bool = False,
                 timeout: float = 10.0):
        self._io = _IoThread()
        self.address = address

        async def make() -> AsyncEngramClient:
            return AsyncEngramClient(address, api_key=api_key, tls=tls, direct=direct, timeout=timeout)

        self._client = self._io.run(make)  # grpc.aio binds a channel to the loop it is made on

    def __enter__(self) -> "EngramClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._io.run(self._client.close)
        self._io.stop()

    def open_stream(self, memory_space: str, *, tenant: str = "", max_batch: int = 256, max_in_flight: Optional[int] = None,
                    honours_backpressure: bool = True, reply_timeout: float = DEFAULT_REPLY_TIMEOUT_S,
                    on_ack: Optional[AckCallback] = None) -> ObservationStream:
        stream = self._io.run(lambda: self._client.open_stream(memory_space, tenant=tenant, max_batch=max_batch, max_in_flight=max_in_flight,
                                                               honours_backpressure=honours_backpressure, reply_timeout=reply_timeout, on_ack=on_ack))
        return ObservationStream(stream, self._io)

    def recall(self, memory_space: str, vector: Vector, k: int = 10, *, ef: Optional[int] = None, min_similarity: Optional[float] = None,
               timeout: Optional[float] = None) -> RecallResult:
        return self._io.run(lambda: self._client.recall(memory_space, vector, k, ef=ef, min_similarity=min_similarity, timeout=timeout))

    def fetch(self, memory_space: str, ids: Sequence[str]) -> FetchResult:
        return self._io.run(lambda: self._client.fetch(memory_space, ids))

    def stats(self) -> pb.StatsResponse:
        return self._io.run(self._client.stats)

    def get_config(self) -> EngineConfig:
        return self._io.run(self._client.get_config)

    def apply_config(self, patch: Dict[str, Any], *, dry_run: bool = False, timeout: float = 60.0) -> EngineConfig:
        return self._io.run(lambda: self._client.apply_config(patch, dry_run=dry_run, timeout=timeout))

    def set_keys(self, document: str) -> str:
        return self._io.run(lambda: self._client.set_keys(document))
