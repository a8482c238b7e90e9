"""The asyncio client against real engines: streams with awaited receipts, concurrent recalls,
rate-limit refusals resent after the engine's hint."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from engram_stream import AsyncEngramClient, NotFoundError, ObservationRejected

from conftest import clustered, unit


async def test_streams_and_awaits_receipts_while_recalling(engine):
    vectors = clustered(3000, 64, seed=21)
    async with AsyncEngramClient(engine.address) as client:
        stream = await client.open_stream("async-rows")
        receipts = [await stream.send(f"a{n}", row, metadata={"n": str(n)}) for n, row in enumerate(vectors[:500])]
        await asyncio.gather(*(r.indexed for r in receipts))

        async def recall_meanwhile() -> int:
            answered = 0
            for row in vectors[:40]:
                result = await client.recall("async-rows", row, k=3)
                answered += len(result.hits) > 0
            return answered

        recalls = asyncio.ensure_future(recall_meanwhile())
        receipts += await stream.send_many([f"a{n}" for n in range(500, 3000)], vectors[500:])
        counts = await stream.close()
        assert await recalls == 40
        assert (counts.accepted, counts.indexed) == (3000, 3000)
        await asyncio.gather(*(r.accepted for r in receipts), *(r.indexed for r in receipts))

        result = await client.recall("async-rows", vectors[250], k=1)
        assert result.ids == ["a250"] and result.hits[0].metadata == {"n": "250"}
        fetched = await client.fetch("async-rows", ["a0", "a2999", "zzz"])
        assert fetched.missing_ids == ["zzz"]
        np.testing.assert_allclose(fetched.observations[1].embedding, unit(vectors[2999]), atol=1e-6)
        with pytest.raises(NotFoundError):
            await client.recall("async-none", vectors[0], k=1)


async def test_rate_limited_refusals_are_resent_after_the_hint(engine_factory):
    # twelve streams at once on a tenant of 200/s with a burst of 50: batches of 50 are more than
    # two seconds of tokens can cover, so the engine refuses some (REJECT_RATE_LIMITED with a
    # retry time); each stream resends them and everything is accepted in the end
    engine = engine_factory({"hnsw.dimension": 32, "tenants": [{"name": "slow", "spaces": ["slow-*"], "rateLimit": 200, "burst": 50}]})
    async with AsyncEngramClient(engine.address) as client:
        async def one(s: int):
            stream = await client.open_stream(f"slow-many-{s}", max_batch=50)
            await stream.send_many([f"{s}-{n}" for n in range(100)], clustered(100, 32, seed=s))
            return await stream.close()

        all_counts = await asyncio.gather(*(one(s) for s in range(12)))
        assert sum(c.accepted for c in all_counts) == 1200
        assert sum(c.refusals.get("REJECT_RATE_LIMITED", 0) for c in all_counts) > 0
        assert sum(c.resent for c in all_counts) > 0
        for s in range(12):
            fetched = await client.fetch(f"slow-many-{s}", [f"{s}-{n}" for n in range(100)])
            assert fetched.missing_ids == []


async def test_a_quota_refusal_is_final_and_names_the_observation(engine_factory):
    engine = engine_factory({"hnsw.dimension": 32, "tenants": [{"name": "small", "spaces": ["small-*"], "maxVectors": 10}]})
    async with AsyncEngramClient(engine.address) as client:
        stream = await client.open_stream("small-space", max_batch=5)
        receipts = await stream.send_many([f"q{n}" for n in range(15)], clustered(15, 32))
        counts = await stream.close()
        outcomes = await asyncio.gather(*(r.accepted for r in receipts), return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, ObservationRejected)]
        assert counts.accepted == 10 and len(refused) == 5
        assert {o.code for o in refused} == {"REJECT_QUOTA_EXCEEDED"}
        assert sorted(o.observation_id for o in refused) == sorted(f"q{n}" for n in range(10, 15))
