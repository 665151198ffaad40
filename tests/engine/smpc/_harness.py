"""Helpers for SMPC session tests: identities, free ports, spec text, parties in threads."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.smpc import generate_identity, join_session, parse_spec, serve_dealer

DEALER = "dealer"


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Cluster:
    """Identities on disk for ``names`` (plus a dealer) and fresh ports."""

    root: Path
    names: list[str]
    fingerprints: dict[str, str]
    ports: dict[str, int]

    @classmethod
    def create(cls, root: Path, names: list[str]) -> Cluster:
        fps = {}
        for name in [*names, DEALER]:
            ident = generate_identity(name)
            (root / f"{name}.crt").write_bytes(ident.cert_pem)
            (root / f"{name}.key").write_bytes(ident.key_pem)
            fps[name] = ident.fingerprint
        ports = dict(zip([*names, DEALER], free_ports(len(names) + 1), strict=True))
        return cls(root=root, names=names, fingerprints=fps, ports=ports)

    def paths(self, name: str) -> tuple[Path, Path]:
        return self.root / f"{name}.crt", self.root / f"{name}.key"

    def spec_text(
        self,
        computation: str,
        *,
        extra: str = "",
        reveal_to: list[str] | None = None,
        timeout_s: float = 10,
        session_id: str = "test-session",
        tail: str = "",
        fingerprints: dict[str, str] | None = None,
        dealer_lines: str = 'mode = "process"',
    ) -> str:
        fps = {**self.fingerprints, **(fingerprints or {})}
        reveal = reveal_to if reveal_to is not None else self.names
        lines = [
            "[session]",
            f'id = "{session_id}"',
            f'computation = "{computation}"',
            'column = "amount"',
            "reveal_to = [" + ", ".join(f'"{r}"' for r in reveal) + "]",
            f"timeout_s = {timeout_s}",
            extra,
        ]
        for name in self.names:
            lines += [
                "[[party]]",
                f'name = "{name}"',
                f'address = "127.0.0.1:{self.ports[name]}"',
                f'cert_fingerprint = "{fps[name]}"',
            ]
        lines += [
            "[dealer]",
            f'name = "{DEALER}"',
            f'address = "127.0.0.1:{self.ports[DEALER]}"',
            f'cert_fingerprint = "{fps[DEALER]}"',
            dealer_lines,
            tail,
        ]
        return "\n".join(lines) + "\n"

    def run(
        self,
        spec_text: str | dict[str, str],
        inputs: dict[str, dict[str, np.ndarray]],
        *,
        extra_threads: list[Callable[[], Any]] | None = None,
        join_timeout_s: float = 60,
        dealer_kwargs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run every party (and the dealer, if the spec needs one) in threads.

        Returns each name's result dict or the exception it raised.
        """
        texts = spec_text if isinstance(spec_text, dict) else dict.fromkeys(self.names, spec_text)
        out: dict[str, Any] = {}

        def party(name: str) -> None:
            try:
                spec = parse_spec(texts[name])
                cert, key = self.paths(name)
                out[name] = join_session(spec, party=name, inputs=inputs[name], cert=cert, key=key)
            except Exception as exc:
                out[name] = exc

        def dealer() -> None:
            try:
                spec = parse_spec(texts[self.names[0]])
                cert, key = self.paths(DEALER)
                out[DEALER] = serve_dealer(spec, cert=cert, key=key, **(dealer_kwargs or {}))
            except Exception as exc:
                out[DEALER] = exc

        threads = [threading.Thread(target=party, args=(n,)) for n in inputs]
        if parse_spec(texts[self.names[0]]).needs_dealer:
            threads.append(threading.Thread(target=dealer))
        threads += [threading.Thread(target=f) for f in extra_threads or []]
        for t in threads:
            t.start()
        for t in threads:
            t.join(join_timeout_s)
            assert not t.is_alive(), "a party hung"
        return out
