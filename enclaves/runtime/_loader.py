"""Import an enclave app from the measured bytes the host sent, never from disk."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType

#: Package name under which every app's modules are imported inside the enclave.
APP_PACKAGE = "enclave_app"


class _MemoryFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, files: Mapping[str, bytes]) -> None:
        self._sources: dict[str, tuple[str, bytes, bool]] = {
            APP_PACKAGE: ("__init__.py", b"", True)
        }
        for rel, data in files.items():
            if not rel.endswith(".py"):
                continue
            parts = rel[: -len(".py")].split("/")
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            self._sources[".".join([APP_PACKAGE, *parts])] = (rel, data, is_package)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        entry = self._sources.get(fullname)
        if entry is None:
            return None
        spec = importlib.util.spec_from_loader(fullname, self, is_package=entry[2])
        if spec is not None:
            spec.origin = f"<enclave>/{entry[0]}"
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        rel, data, _ = self._sources[module.__name__]
        # SECURITY: the code executed is exactly the bytes that were measured; nothing is
        # read from the app directory after measurement, so there is no check-then-use gap.
        code = compile(data, f"<enclave>/{rel}", "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 (this is the enclave's code loader)


def install(files: Mapping[str, bytes]) -> None:
    """Make the app's Python files importable as ``enclave_app.*`` (first on the meta path)."""
    sys.meta_path.insert(0, _MemoryFinder(files))


def resolve(entry: str) -> object:
    """Import ``module:callable`` relative to the app package and return the callable."""
    module_name, _, attribute = entry.partition(":")
    module = importlib.import_module(f"{APP_PACKAGE}.{module_name}")
    return getattr(module, attribute)
