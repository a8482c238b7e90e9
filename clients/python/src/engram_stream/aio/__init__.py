"""The asyncio API."""
from .client import AsyncEngramClient
from .stream import AsyncObservationStream, AsyncReceipt

__all__ = ["AsyncEngramClient", "AsyncObservationStream", "AsyncReceipt"]
