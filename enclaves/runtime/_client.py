"""The verifier's side of a secure channel into an attested enclave."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.attestation import NonceRegistry, Policy, Verdict, verify_quote
from enclaves.channel import SecureChannel, connect
from enclaves.encoding import decode, encode
from enclaves.runtime._protocol import Enclave
from engine import errors
from engine.errors import EnclaveError, IntegrityError


class AttestedClient:
    """Attest an enclave, then talk to it over a channel the host can only relay.

    The host process carries every record but cannot read or alter them: the channel keys
    come from an X25519 exchange with the key in the verified quote.
    """

    def __init__(
        self, *, enclave: Enclave, verdict: Verdict, channel: SecureChannel, session: bytes
    ) -> None:
        self._enclave = enclave
        self._channel = channel
        self._session = session
        self.verdict = verdict

    @classmethod
    def connect(
        cls,
        enclave: Enclave,
        *,
        policy: Policy,
        roots: Sequence[x509.Certificate],
        nonces: NonceRegistry,
        client_key: Ed25519PrivateKey | None = None,
    ) -> Self:
        """Issue a nonce, get a quote, verify it against ``policy`` and open a channel.

        Args:
            enclave: The enclave (any backend).
            policy: What the verifier accepts.
            roots: Trusted platform root certificates.
            nonces: The verifier's nonce registry.
            client_key: The client's Ed25519 identity key; the enclave sees its hash as
                ``Request.client_id``. Without it the channel is anonymous.

        Returns:
            A client bound to the verified quote.

        Raises:
            AttestationError: If the quote fails verification or policy.
            EnclaveError: If the enclave fails.
        """
        quote = enclave.attest(nonces.issue())
        verdict = verify_quote(quote, policy, roots=roots, nonces=nonces)
        channel, hello = connect(
            verdict.claims.public_key, binding=verdict.claims.binding, client_key=client_key
        )
        session = enclave.open_channel(quote, hello)
        return cls(enclave=enclave, verdict=verdict, channel=channel, session=session)

    def call(self, method: str, args: Any = None) -> Any:
        """Send ``method(args)`` encrypted to the enclave and return its decrypted reply.

        Raises:
            IntegrityError: If a record was tampered with, replayed or reordered.
            EnclaveError: If the enclave or the app failed.
        """
        record = self._channel.seal(encode({"method": method, "args": args}))
        reply = decode(self._channel.open(self._enclave.send_secure(self._session, record)))
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise IntegrityError("malformed secure reply")
        if not reply["ok"]:
            kind = getattr(errors, str(reply.get("error")), None)
            if not (isinstance(kind, type) and issubclass(kind, errors.FinVeilError)):
                kind = EnclaveError
            raise kind(f"enclave {method!r} failed: {reply.get('message')}")
        return reply.get("result")
