"""The blocking client against real engines: streams, receipts, recall, fetch, typed errors, admin."""
from __future__ import annotations

import signal
import time
from typing import List

import numpy as np
import pytest

from engram_stream import (
    AckEvent,
    EngramClient,
    InvalidArgumentError,
    NotFoundError,
    ObservationRejected,
    StreamFailed,
    UnauthenticatedError,
)

from conftest import ENGINE_CLI, NODE, clustered, fetch_all, unit


def test_streams_numpy_rows_and_every_receipt_resolves(engine):
    vectors = clustered(4000, 64)
    ids = [f"row-{i}" for i in range(len(vectors))]
    with EngramClient(engine.address) as client:
        with client.open_stream("numpy-rows") as stream:
            receipts = stream.send_many(ids, vectors, contents=[f"text {i}" for i in range(len(ids))])
            counts = stream.close()
        assert (counts.sent, counts.accepted, counts.indexed, counts.rejected) == (4000, 4000, 4000, 0)
        for receipt in receipts:
            assert receipt.accepted.result(timeout=5) is None
            assert receipt.indexed.result(timeout=5) is None
        assert [r.sequence for r in receipts] == list(range(1, 4001))

        stored, missing = fetch_all(client, "numpy-rows", ids)
        assert missing == []
        # stored normalised under cosine: the direction sent, to float32 precision
        np.testing.assert_allclose(np.stack([stored[i].embedding for i in ids]), unit(vectors), atol=1e-6)
        assert stored["row-17"].content == "text 17"

        for row in (0, 1234, 3999):
            result = client.recall("numpy-rows", vectors[row], k=5)
            assert result.ids[0] == f"row-{row}"
            assert result.hits[0].similarity == pytest.approx(1.0, abs=1e-4)
            assert result.space_size == 4000


def test_float64_and_list_vectors_are_converted(engine):
    vector = clustered(1, 64, seed=3)[0]
    with EngramClient(engine.address) as client:
        with client.open_stream("conversions") as stream:
            as_f64 = stream.send("f64", vector.astype(np.float64))
            as_list = stream.send("list", vector.tolist(), metadata={"kind": "list"})
            strided = stream.send("strided", np.repeat(vector, 2)[::2])  # not contiguous
            stream.close()
        for receipt in (as_f64, as_list, strided):
            receipt.indexed.result(timeout=5)
        stored, missing = fetch_all(client, "conversions", ["f64", "list", "strided"])
        assert missing == []
        for key in ("f64", "list", "strided"):
            np.testing.assert_allclose(stored[key].embedding, unit(vector), atol=1e-6)
        assert stored["list"].metadata == {"kind": "list"}
    with pytest.raises(ValueError, match="one-dimensional"):
        from engram_stream.types import vector_bytes
        vector_bytes(np.zeros((2, 64), np.float32))


def test_an_invalid_observation_is_refused_with_its_code_and_the_stream_goes_on(engine):
    good = clustered(2, 64, seed=5)
    with EngramClient(engine.address) as client:
        with client.open_stream("invalid-one") as stream:
            before = stream.send("before", good[0])
            bad = stream.send("short", np.zeros(5, np.float32))
            after = stream.send("after", good[1])
            counts = stream.close()
        with pytest.raises(ObservationRejected) as refused:
            bad.accepted.result(timeout=5)
        assert refused.value.code == "REJECT_INVALID_OBSERVATION"
        assert refused.value.observation_id == "short" and refused.value.sequence == 2
        assert "5 dimensions" in refused.value.reason and "64" in refused.value.reason
        with pytest.raises(ObservationRejected):
            bad.indexed.result(timeout=5)
        before.indexed.result(timeout=5)
        after.indexed.result(timeout=5)
        assert (counts.accepted, counts.rejected) == (2, 1)
        _, missing = fetch_all(client, "invalid-one", ["before", "after", "short"])
        assert missing == ["short"]


def test_ack_callbacks_cover_every_sequence_accepted_then_indexed(engine):
    events: List[AckEvent] = []
    vectors = clustered(1000, 64, seed=7)
    with EngramClient(engine.address) as client:
        with client.open_stream("callbacks", max_batch=100, on_ack=events.append) as stream:
            stream.send_many([f"c{i}" for i in range(1000)], vectors)
            stream.close()
    for status in ("ACCEPTED", "INDEXED"):
        covered = sorted(s for e in events if e.status == status for s in range(e.first_sequence, e.last_sequence + 1))
        assert covered == list(range(1, 1001)), status
    assert not [e for e in events if e.status == "REJECTED"]


def test_engine_errors_are_typed_with_the_engine_codes(engine):
    vector = clustered(1, 64)[0]
    with EngramClient(engine.address) as client:
        with pytest.raises(NotFoundError) as missing:
            client.recall("no-such-space", vector, k=3)
        assert missing.value.code == "SPACE_NOT_FOUND" and "no-such-space" in missing.value.message
        with client.open_stream("errors-space") as stream:
            stream.send("one", vector)
        with pytest.raises(InvalidArgumentError) as bad_k:
            client.recall("errors-space", vector, k=0)
        assert bad_k.value.code == "INVALID_ARGUMENT" and "k must be" in bad_k.value.message
        with pytest.raises(InvalidArgumentError) as bad_vector:
            client.recall("errors-space", vector[:10], k=1)
        assert bad_vector.value.code == "INVALID_VECTOR"
        with pytest.raises(InvalidArgumentError) as bad_space:
            client.open_stream("No Spaces Allowed")
        assert bad_space.value.code == "INVALID_SPACE_ID"
        with pytest.raises(InvalidArgumentError) as bad_key:
            client.apply_config({"no_such_key": 1})
        assert bad_key.value.code == "INVALID_CONFIG" and "no_such_key" in bad_key.value.message


def test_admin_applies_config_live_and_reports_stats(engine):
    with EngramClient(engine.address) as client:
        before = client.get_config()
        dry = client.apply_config({"hnsw": {"efSearch": 99}}, dry_run=True)
        assert dry.config["hnsw"]["efSearch"] == 99 and dry.generation == before.generation
        applied = client.apply_config({"hnsw": {"efSearch": 99}})
        assert applied.generation == before.generation + 1 and applied.hash != before.hash
        assert client.get_config().config["hnsw"]["efSearch"] == 99
        with client.open_stream("stats-space") as stream:
            stream.send_many([f"s{i}" for i in range(50)], clustered(50, 64))
        stats = client.stats()
        assert {s.memory_space: s.vectors for s in stats.spaces}["stats-space"] == 50
        assert stats.config_hash == applied.hash


def test_backpressure_refusals_are_resent_and_nothing_is_lost(engine_factory):
    # a queue far smaller than the burst, and a client that does not honour PAUSE: the engine
    # refuses what does not fit (REJECT_BACKPRESSURE with a retry hint), the stream resends it
    engine = engine_factory({"queue.capacity": 500, "workers": 2, "batch.max": 50})
    vectors = clustered(3000, 768)
    ids = [f"b{i}" for i in range(3000)]
    with EngramClient(engine.address) as client:
        with client.open_stream("burst", honours_backpressure=False, max_batch=100, max_in_flight=2000) as stream:
            receipts = stream.send_many(ids, vectors)
            counts = stream.close()
        assert counts.refusals.get("REJECT_BACKPRESSURE", 0) > 0 and counts.resent > 0
        assert (counts.accepted, counts.indexed, counts.rejected) == (3000, 3000, 0)
        assert all(r.accepted.result(timeout=5) is None for r in receipts)
        _, missing = fetch_all(client, "burst", ids)
        assert missing == []


def test_a_killed_engine_fails_the_stream_with_what_to_resend_and_loses_nothing_accepted(engine_factory, data_dir):
    config = {"hnsw.dimension": 64, "workers": 1}
    engine = engine_factory(config, data_dir=data_dir)
    vectors = clustered(20000, 64, seed=11)
    ids = [f"k{i}" for i in range(len(vectors))]
    client = EngramClient(engine.address)
    stream = client.open_stream("killed", max_batch=50, max_in_flight=400)
    receipts = []
    with pytest.raises(StreamFailed) as failed:
        for n, i in enumerate(ids):
            receipts.append(stream.send(i, vectors[n]))
            if n == 3000:
                engine.stop(signal.SIGKILL)
        stream.close()
    client.close()
    unaccepted = set(failed.value.unaccepted_ids)
    assert failed.value.code in ("UNAVAILABLE", "STREAM_ENDED", "CANCELLED", "INTERNAL")
    accepted = []
    for r in receipts:
        try:
            r.accepted.result(timeout=5)
            accepted.append(r.id)
        except StreamFailed:
            assert r.id in unaccepted
    assert len(accepted) > 0 and len(unaccepted) > 0

    restarted = engine_factory(config, data_dir=data_dir)
    with EngramClient(restarted.address) as client:
        stored, missing = fetch_all(client, "killed", accepted)
        assert missing == [], "an observation the engine accepted was lost"
        # what the failure named, sent again on a new stream, completes the set
        position = {i: n for n, i in enumerate(ids)}
        resend = sorted(unaccepted, key=position.__getitem__)
        with client.open_stream("killed") as again:
            again.send_many(resend, vectors[[position[i] for i in resend]])
        _, missing = fetch_all(client, "killed", accepted + resend)
        assert missing == []


def test_an_api_key_is_sent_and_its_absence_refused_with_the_code(engine_factory, data_dir, tmp_path):
    import subprocess

    keys_file = tmp_path / "keys.yaml"
    created = subprocess.run([NODE, str(ENGINE_CLI), "keys", "create", "--keys-file", str(keys_file), "--id", "ops", "--role", "admin"],
                             check=True, capture_output=True, text=True)
    key = created.stdout.strip().splitlines()[-1].strip()
    engine = engine_factory({"hnsw.dimension": 64}, extra_args=["--keys-file", str(keys_file)])
    with EngramClient(engine.address) as anonymous:
        with pytest.raises(UnauthenticatedError) as refused:
            anonymous.stats()
        assert refused.value.code == "CREDENTIALS_MISSING"
    with EngramClient(engine.address, api_key="not-a-key") as wrong:
        with pytest.raises(UnauthenticatedError) as refused:
            wrong.stats()
        assert refused.value.code == "CREDENTIALS_INVALID"
    with EngramClient(engine.address, api_key=key) as client:
        with client.open_stream("keyed") as stream:
            stream.send("one", clustered(1, 64)[0]).accepted.result(timeout=5)
        assert client.stats().observations_accepted == 1


def test_send_blocks_at_max_in_flight_instead_of_buffering_without_bound(engine_factory):
    # a tenant at 200 observations/s: the stream holds 100 unaccepted at most, so 600 sends take
    # about (600 - burst) / rate seconds, and the client never holds more than its bound
    engine = engine_factory({"hnsw.dimension": 64, "tenants": [{"name": "slow", "spaces": ["slow-*"], "rateLimit": 200, "burst": 50}]})
    with EngramClient(engine.address) as client:
        with client.open_stream("slow-one", max_batch=50, max_in_flight=100) as stream:
            started = time.monotonic()
            held = 0
            for n, row in enumerate(clustered(600, 64)):
                stream.send(f"s{n}", row)
                held = max(held, len(stream.unaccepted_ids()))
            counts = stream.close()
            seconds = time.monotonic() - started
    assert held <= 100
    assert counts.accepted == 600
    assert seconds > 2.0, f"600 observations at 200/s after a burst of 50 took {seconds:.2f} s"
