"""An observation stream on asyncio: the same protocol as the TypeScript client's ObservationStream.

The caller `send`s observations; the stream numbers them, batches them, and keeps every one until
the engine ACCEPTS it. On a retryable refusal (backpressure, rate limit, a space moving, shutdown)
or a sequence gap it goes back to the first refused one and resends from there after the engine's
retry hint ("go-back-N"); a PAUSE stops sending until RESUME or its retry hint passes. What goes on
the wire is bounded three ways: the engine's window (SET_WINDOW: sent and not yet indexed), a
congestion window (halved on every refusal or SLOW_DOWN, grown by about a batch per window of
accepted observations), and `max_in_flight` unaccepted observations, past which `send` waits.
Each observation's ACCEPTED and INDEXED outcome reaches the caller through its receipt's futures
(final refusals as `ObservationRejected`), and every ack range through `on_ack`.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from typing import Callable, Dict, Generic, List, Mapping, Optional, Sequence, TypeVar

import grpc

from .._generated import engram_pb2 as pb
from ..errors import EngramError, ObservationRejected, StreamFailed, from_rpc_error
from ..types import AckEvent, StreamCounts, Vector, vector_bytes

#: Final refusals that use up their sequence numbers: the next observation goes on from there.
CONSUMES_SEQUENCE = frozenset({"REJECT_INVALID_OBSERVATION", "REJECT_QUOTA_EXCEEDED"})
#: Refusals the stream resends by itself after the engine's retry hint.
RETRYABLE = frozenset({"REJECT_BACKPRESSURE", "REJECT_RATE_LIMITED", "REJECT_SHUTTING_DOWN", "REJECT_STORAGE_UNAVAILABLE",
                       "REJECT_MEMORY_PRESSURE", "REJECT_SEQUENCE_GAP", "REJECT_SPACE_MOVING"})
MAX_PAUSE_S = 2.0
#: The congestion window's floor and its additive step, in observations.
WINDOW_STEP = 16
#: How long a batch may go unanswered before the stream gives up: the engine answers every batch
#: once its log has it (a rate-limited one within 2 s), so a longer silence is an engine that won't.
DEFAULT_REPLY_TIMEOUT_S = 30.0

AckCallback = Callable[[AckEvent], None]


class Outcome:
    """One stage (accepted, or indexed) of one observation: pending, done, or failed with an error.
    Resolved on the stream's event loop; callbacks registered there too."""

    __slots__ = ("done", "error", "_callbacks")

    def __init__(self) -> None:
        self.done = False
        self.error: Optional[BaseException] = None
        self._callbacks: Optional[List[Callable[[Optional[BaseException]], None]]] = None

    def resolve(self, error: Optional[BaseException] = None) -> None:
        if self.done:
            return
        self.done, self.error = True, error
        callbacks, self._callbacks = self._callbacks, None
        for callback in callbacks or ():
            callback(error)

    def on_done(self, callback: Callable[[Optional[BaseException]], None]) -> None:
        if self.done:
            callback(self.error)
        else:
            self._callbacks = (self._callbacks or []) + [callback]


class Tracked:
    """An observation the stream holds: its wire fields and its two outcomes."""

    __slots__ = ("id", "sequence", "embedding", "content", "metadata", "timestamp_ms", "accepted", "indexed")

    def __init__(self, id: str, sequence: int, embedding: bytes, content: str, metadata: Mapping[str, str], timestamp_ms: int):
        self.id, self.sequence, self.embedding = id, sequence, embedding
        self.content, self.metadata, self.timestamp_ms = content, metadata, timestamp_ms
        self.accepted = Outcome()
        self.indexed = Outcome()

    def fail(self, error: BaseException) -> None:
        self.accepted.resolve(error)
        self.indexed.resolve(error)


F = TypeVar("F")


class ReceiptBase(Generic[F]):
    """What `send` returns: a future for each stage of one observation, made on first use (so a
    caller that never looks leaves no unretrieved exception behind). The futures' kind is the API's."""

    __slots__ = ("_tracked", "_accepted", "_indexed")

    def __init__(self, tracked: Tracked):
        self._tracked = tracked
        self._accepted: Optional[F] = None
        self._indexed: Optional[F] = None

    @property
    def id(self) -> str:
        return self._tracked.id

    @property
    def sequence(self) -> int:
        return self._tracked.sequence

    @property
    def accepted(self) -> F:
        """Resolves once the engine has the observation in its log (durable)."""
        if self._accepted is None:
            self._accepted = self._future_of(self._tracked.accepted)
        return self._accepted

    @property
    def indexed(self) -> F:
        """Resolves once a recall can find the observation."""
        if self._indexed is None:
            self._indexed = self._future_of(self._tracked.indexed)
        return self._indexed

    def _future_of(self, outcome: Outcome) -> F:
        raise NotImplementedError


class AsyncReceipt(ReceiptBase["asyncio.Future[None]"]):
    """`await receipt.accepted`, `await receipt.indexed`: each raises `ObservationRejected` or `StreamFailed`."""

    __slots__ = ("_loop",)

    def __init__(self, tracked: Tracked, loop: asyncio.AbstractEventLoop):
        super().__init__(tracked)
        self._loop = loop

    def _future_of(self, outcome: Outcome) -> "asyncio.Future[None]":
        future: asyncio.Future[None] = self._loop.create_future()

        def settle(error: Optional[BaseException]) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

        outcome.on_done(settle)
        return future


class AsyncObservationStream:
    """One ObserveStream session on one memory space (open it with `AsyncEngramClient.open_stream`)."""

    def __init__(self, call: grpc.aio.StreamStreamCall, init_ack: pb.StreamInitAck, memory_space: str, max_batch: int,
                 max_in_flight: int, reply_timeout_s: float, on_ack: Optional[AckCallback]):
        self._call = call
        self._loop = asyncio.get_running_loop()
        self.memory_space = memory_space
        self.session_id: str = init_ack.session_id
        self.capabilities: pb.Capabilities = init_ack.capabilities
        self.counts = StreamCounts()
        self.last_status: Optional[pb.StreamStatus] = None
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._reply_timeout_s = reply_timeout_s
        self._on_ack = on_ack
        # unaccepted observations in sequence order; _window[0] has sequence _base
        self._window: List[Tracked] = []
        self._base = 1
        self._next_sequence = 1
        self._cursor = 0  # index into _window of the next observation to put on the wire
        self._highest_sent = 0
        self._wave = 0
        self._send_window = max_in_flight
        self._engine_window: float = init_ack.capabilities.stream_window or math.inf
        self._unindexed = 0
        self._awaiting_index: Dict[int, Tracked] = {}
        self._unanswered: "OrderedDict[int, tuple[int, float]]" = OrderedDict()  # batch id -> (wave, sent at)
        self._next_batch_id = 1
        self._paused = False
        self._resume: Optional[asyncio.TimerHandle] = None
        self._failure: Optional[StreamFailed] = None
        self._closing = False
        self._close_message: Optional[pb.ClientMessage] = None
        self._waiters: List[asyncio.Future[None]] = []
        self._writer_wake = asyncio.Event()
        self._writer = asyncio.ensure_future(self._write_loop())
        self._reader = asyncio.ensure_future(self._read_loop())
        self._watch = self._loop.call_later(self._watch_interval(), self._check_replies) if reply_timeout_s > 0 else None

    # ---- the caller's side -------------------------------------------------------------------

    async def send(self, id: str, embedding: Vector, *, content: str = "", metadata: Optional[Mapping[str, str]] = None,
                   timestamp_ms: Optional[int] = None) -> AsyncReceipt:
        """Queues one observation; waits while `max_in_flight` observations are unaccepted."""
        data = vector_bytes(embedding)
        while len(self._window) >= self._max_in_flight and self._failure is None:
            await self._changed()
        if self._failure is not None:
            raise self._failure
        tracked = Tracked(id, self._next_sequence, data, content, metadata or {}, timestamp_ms or int(time.time() * 1000))
        self._next_sequence += 1
        self._window.append(tracked)
        self._writer_wake.set()
        return AsyncReceipt(tracked, self._loop)

    async def send_many(self, ids: Sequence[str], embeddings: Sequence[Vector], *, contents: Optional[Sequence[str]] = None,
                        metadatas: Optional[Sequence[Mapping[str, str]]] = None) -> List[AsyncReceipt]:
        """Sends rows of a 2-D array (or a sequence of vectors) under the given ids, in order."""
        if len(ids) != len(embeddings):
            raise ValueError(f"{len(ids)} ids for {len(embeddings)} embeddings")
        return [await self.send(i, embeddings[n], content=contents[n] if contents else "", metadata=metadatas[n] if metadatas else None)
                for n, i in enumerate(ids)]

    async def settled(self) -> None:
        """Waits until everything sent so far is accepted or finally refused."""
        self._writer_wake.set()
        while self._window:
            if self._failure is not None:
                raise self._failure
            await self._changed()

    async def close(self, drain: bool = True) -> StreamCounts:
        """Settles everything, then closes. With `drain` the engine indexes everything accepted on
        this stream first, so every receipt's `indexed` is resolved on return."""
        await self.settled()
        self._closing = True
        self._close_message = pb.ClientMessage(close=pb.StreamClose(drain=drain))
        self._writer_wake.set()
        await asyncio.gather(self._writer, self._reader, return_exceptions=True)
        self._stop_timers()
        if self._failure is not None:
            raise self._failure
        return self.counts

    def cancel(self) -> None:
        """Abandons the stream at once (what a crashing client does)."""
        self._fail(StreamFailed("the stream was cancelled by the caller", "CANCELLED", self.unaccepted_ids()))
        self._call.cancel()

    def unaccepted_ids(self) -> List[str]:
        """Ids given to `send` that the engine has not accepted: to send again after a failure."""
        return [t.id for t in self._window]

    @property
    def unindexed(self) -> int:
        return self._unindexed

    # ---- the wire ----------------------------------------------------------------------------

    def _take_batch(self) -> Optional[pb.ClientMessage]:
        """The next batch the windows allow on the wire, or None."""
        end = int(min(len(self._window), self._send_window, self._engine_window - self._unindexed, self._cursor + self._max_batch))
        if self._cursor >= end or self._paused or self._failure is not None:
            return None
        batch = pb.ObservationBatch(batch_id=self._next_batch_id)
        for t in self._window[self._cursor:end]:
            batch.observations.add(id=t.id, embedding=t.embedding, content=t.content, metadata=t.metadata,
                                   timestamp_ms=t.timestamp_ms, sequence=t.sequence)
            if t.sequence <= self._highest_sent:
                self.counts.resent += 1
            else:
                self.counts.sent += 1
                self._highest_sent = t.sequence
        self._cursor = end
        self._unanswered[self._next_batch_id] = (self._wave, self._loop.time())
        self._next_batch_id += 1
        return pb.ClientMessage(observations=batch)

    async def _write_loop(self) -> None:
        try:
            while True:
                message = self._take_batch()
                if message is not None:
                    await self._call.write(message)  # waits while gRPC's transport buffer is full
                elif self._close_message is not None:
                    await self._call.write(self._close_message)
                    await self._call.done_writing()
                    return
                elif self._failure is not None:
                    return
                else:
                    self._writer_wake.clear()
                    await self._writer_wake.wait()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, grpc.aio.UsageError):
            return  # the call ended: the reader reports how

    async def _read_loop(self) -> None:
        try:
            while True:
                message = await self._call.read()
                if message is grpc.aio.EOF:
                    break
                self._receive(message)
            # The engine ended the stream without being asked (it stopped, or the space moved):
            # what is not accepted yet must go again on a new stream.
            if not self._closing:
                reason = self.last_status.message if self.last_status and self.last_status.message else "no reason given"
                self._fail(StreamFailed(f"the engine ended the stream: {reason}", "STREAM_ENDED", self.unaccepted_ids()))
        except grpc.aio.AioRpcError as e:
            error = from_rpc_error(e)
            self._fail(StreamFailed(f"the stream failed: {error}", error.code, self.unaccepted_ids(), error, error.status, error.details))
        finally:
            self._stop_timers()
            # closed without drain: what was accepted is durable, but nobody will say it was indexed
            self._fail_unindexed(StreamFailed("the stream closed before the engine reported this observation indexed (it was accepted)", "STREAM_CLOSED"))
            self._wake_all()

    def _receive(self, message: pb.ServerMessage) -> None:
        body = message.WhichOneof("body")
        if body == "acks":
            reply_to = message.acks.in_reply_to
            sent = self._unanswered.pop(reply_to, None) if reply_to else None
            for ack in message.acks.acks:
                self._handle_ack(ack, sent is not None and sent[0] == self._wave)
                if self._on_ack is not None:
                    self._on_ack(AckEvent(pb.AckStatus.Name(ack.status), ack.first_sequence, ack.last_sequence,
                                          pb.RejectCode.Name(ack.code), ack.reason, ack.retry_after_ms))
            self._wake_all()
            self._writer_wake.set()  # accepted acks open the congestion window
        elif body == "status":
            self.last_status = message.status
        elif body == "flow":
            self._handle_flow(message.flow)

    def _handle_flow(self, flow: pb.FlowControl) -> None:
        action = pb.FlowAction.Name(flow.action)
        if action == "SET_WINDOW":
            self._engine_window = flow.window if flow.window > 0 else math.inf
        elif action == "SLOW_DOWN":
            self._shrink_window()
        elif action == "PAUSE":
            self._pause_for(min(flow.retry_after_ms / 1000, MAX_PAUSE_S) if flow.retry_after_ms > 0 else MAX_PAUSE_S)
        elif action in ("RESUME", "SPEED_UP"):
            self._pause_for(0)
        self._writer_wake.set()

    def _handle_ack(self, ack: pb.Ack, current_wave: bool) -> None:
        status, code = pb.AckStatus.Name(ack.status), pb.RejectCode.Name(ack.code)
        first, last = ack.first_sequence, ack.last_sequence
        n = last - first + 1
        if status == "INDEXED":
            self.counts.indexed += n
            self._unindexed = max(0, self._unindexed - n)
            for sequence in range(first, last + 1):
                tracked = self._awaiting_index.pop(sequence, None)
                if tracked is not None:
                    tracked.indexed.resolve()
            return
        if status == "ACCEPTED":
            self.counts.accepted += n
            self._unindexed += n
            for tracked in self._in_window(first, last):
                tracked.accepted.resolve()
                tracked.embedding = b""  # never resent once accepted: only its outcome waits for INDEXED
                self._awaiting_index[tracked.sequence] = tracked
            self._settle(last)
            self._send_window = min(self._max_in_flight, self._send_window + math.ceil(n * WINDOW_STEP / self._send_window))
            return
        if code not in RETRYABLE:
            self._handle_final_refusal(ack, code, first, last)
            return
        self.counts.refusals[code] = self.counts.refusals.get(code, 0) + n
        if current_wave:  # a refusal of an earlier wave's send is already being resent
            self._shrink_window()
            self._go_back(first, ack.retry_after_ms / 1000)

    def _handle_final_refusal(self, ack: pb.Ack, code: str, first: int, last: int) -> None:
        """Invalid, over quota, failed to index, or a duplicate (already resolved)."""
        n = last - first + 1
        if code == "REJECT_SEQUENCE_DUPLICATE":
            return
        self.counts.rejected += n
        if code == "REJECT_INDEX_FAILED":  # accepted before
            self._unindexed = max(0, self._unindexed - n)
            for sequence in range(first, last + 1):
                tracked = self._awaiting_index.pop(sequence, None)
                if tracked is not None:
                    tracked.indexed.resolve(ObservationRejected(code, ack.reason, tracked.id, sequence))
        if code in CONSUMES_SEQUENCE:
            for tracked in self._in_window(first, last):
                tracked.fail(ObservationRejected(code, ack.reason, tracked.id, tracked.sequence))
            self._settle(last)

    def _in_window(self, first: int, last: int) -> List[Tracked]:
        return self._window[max(0, first - self._base):max(0, last - self._base + 1)]

    def _settle(self, sequence: int) -> None:
        """Observations up to `sequence` are resolved: drop them from the window."""
        drop = min(len(self._window), sequence - self._base + 1)
        if drop <= 0:
            return
        del self._window[:drop]
        self._base += drop
        self._cursor = max(0, self._cursor - drop)

    def _shrink_window(self) -> None:
        self._send_window = max(WINDOW_STEP, self._send_window // 2)

    def _go_back(self, sequence: int, delay_s: float) -> None:
        """Resend everything from `sequence` after `delay_s`; later replies to earlier sends are stale."""
        self._wave += 1
        self._cursor = max(0, sequence - self._base)
        self._pause_for(delay_s)

    def _pause_for(self, seconds: float) -> None:
        if self._resume is not None:
            self._resume.cancel()
        self._paused = seconds > 0
        self._resume = self._loop.call_later(seconds, self._end_pause) if seconds > 0 else None

    def _end_pause(self) -> None:
        self._paused, self._resume = False, None
        self._writer_wake.set()

    # ---- failure ------------------------------------------------------------------------------

    def _watch_interval(self) -> float:
        return min(1.0, self._reply_timeout_s / 4)

    def _check_replies(self) -> None:
        """Ends the stream when its oldest unanswered batch has waited past the reply timeout, so a
        writer whose engine holds a batch and never answers is told, not left waiting."""
        self._watch = None
        if self._failure is not None:
            return
        if self._unanswered:
            batch_id, (_, sent_at) = next(iter(self._unanswered.items()))
            waited = self._loop.time() - sent_at
            if waited >= self._reply_timeout_s:
                self._fail(StreamFailed(f"the engine did not answer batch {batch_id} in {waited:.0f} s; the stream is cancelled: "
                                        "send its unaccepted observations again on a new stream", "REPLY_TIMEOUT", self.unaccepted_ids()))
                self._call.cancel()
                return
        self._watch = self._loop.call_later(self._watch_interval(), self._check_replies)

    def _fail(self, error: StreamFailed) -> None:
        if self._failure is not None or (self._closing and not self._window):
            return
        self._failure = error
        for tracked in self._window:
            tracked.fail(error)
        self._stop_timers()
        self._wake_all()
        self._writer_wake.set()

    def _fail_unindexed(self, error: EngramError) -> None:
        for tracked in self._awaiting_index.values():
            tracked.indexed.resolve(error)
        self._awaiting_index.clear()

    def _stop_timers(self) -> None:
        for handle in (self._watch, self._resume):
            if handle is not None:
                handle.cancel()
        self._watch = self._resume = None

    async def _changed(self) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def _wake_all(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
