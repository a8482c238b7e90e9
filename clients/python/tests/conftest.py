"""Real engines for the client's tests: the repository's built CLI (`engram serve`) on free
loopback ports, as the TypeScript tests start them (engine/src/testing/engine-process.ts)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
ENGINE_CLI = REPO / "engine" / "dist" / "cli" / "main.js"
NODE = os.environ.get("NODE", shutil.which("node") or "node")


@dataclass
class Engine:
    address: str
    process: subprocess.Popen
    data_dir: Optional[str]
    logs: List[str] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGTERM) -> Optional[int]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)


def start_engine(config: Optional[Dict[str, object]] = None, *, data_dir: Optional[str] = None, extra_args: Optional[List[str]] = None) -> Engine:
    """`config` keys become `--set key=value` (values as JSON); without `data_dir` the engine keeps nothing."""
    if not ENGINE_CLI.is_file():
        raise RuntimeError(f"{ENGINE_CLI} is missing: run `npm ci` (it builds the engine) first")
    sets = [arg for key, value in (config or {}).items() for arg in ("--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}")]
    storage = ["--data-dir", data_dir] if data_dir else ["--ephemeral"]
    extra = extra_args or []
    auth = [] if "--keys-file" in extra else ["--insecure"]
    command = [NODE, str(ENGINE_CLI), "serve", "--port", "0", "--http-port", "0", *storage, *auth, *sets, *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    logs: List[str] = []
    listening = threading.Event()
    port: List[int] = []

    def read() -> None:  # keeps draining the engine's log so it never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            logs.append(line)
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message") == "engine listening":
                port.append(int(entry["grpcPort"]))
                listening.set()
        listening.set()

    threading.Thread(target=read, daemon=True).start()
    listening.wait(60)
    if not port:
        process.kill()
        raise RuntimeError("the engine did not start:\n" + "".join(logs))
    return Engine(f"127.0.0.1:{port[0]}", process, data_dir, logs)


@pytest.fixture
def engine_factory() -> Iterator:
    """Starts engines on demand; stops each at the end of the test."""
    started: List[Engine] = []

    def factory(config: Optional[Dict[str, object]] = None, **kwargs: object) -> Engine:
        engine = start_engine(config, **kwargs)  # type: ignore[arg-type]
        started.append(engine)
        return engine

    yield factory
    for engine in started:
        engine.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """One engine for a module's tests: 64 dimensions, cosine, two workers."""
    e = start_engine({"hnsw.dimension": 64, "workers": 2})
    yield e
    e.stop()


@pytest.fixture
def data_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="engram-py-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def clustered(count: int, dimension: int, seed: int = 1) -> np.ndarray:
    """Gaussian clusters, float32 (an (count, dimension) C-contiguous array)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((16, dimension), dtype=np.float32)
    return (centres[rng.integers(0, 16, count)] + 0.3 * rng.standard_normal((count, dimension), dtype=np.float32)).astype("<f4")


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def fetch_all(client, space: str, ids: List[str]):
    """Every id by Fetch, in chunks of 1,000: (stored by id, missing ids)."""
    stored, missing = {}, []
    for start in range(0, len(ids), 1000):
        result = client.fetch(space, ids[start:start + 1000])
        stored.update({o.id: o for o in result.observations})
        missing += result.missing_ids
    return stored, missing
