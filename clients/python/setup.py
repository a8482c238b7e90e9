"""Generates the gRPC stubs from the engine's proto into the built package: nothing generated is
checked in, so the client cannot drift from the wire contract it is built with."""
import shutil
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# in the repository the contract lives with the engine; an sdist carries a copy beside this file
PROTO_CANDIDATES = [HERE / "proto" / "engram.proto", HERE.parent.parent / "engine" / "proto" / "engram" / "v1" / "engram.proto"]
GENERATED = "engram_stream/_generated"


def find_proto() -> Path:
    for candidate in PROTO_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise SystemExit("engram.proto not found at " + " or ".join(str(c) for c in PROTO_CANDIDATES))


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        from grpc_tools import protoc  # a build requirement (pyproject.toml)

        out = Path(self.build_lib)
        with tempfile.TemporaryDirectory() as scratch:
            # compiled from engram_stream/_generated/engram.proto so the generated modules import
            # each other as engram_stream._generated.*, not as a top-level `engram` package
            source = Path(scratch) / GENERATED / "engram.proto"
            source.parent.mkdir(parents=True)
            shutil.copyfile(find_proto(), source)
            (out / GENERATED).mkdir(parents=True, exist_ok=True)
            args = ["grpc_tools.protoc", f"-I{scratch}", f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", str(source)]
            if protoc.main(args) != 0:
                raise SystemExit("protoc failed on " + str(find_proto()))
        (out / GENERATED / "__init__.py").write_text("")


setup(cmdclass={"build_py": BuildWithStubs})
