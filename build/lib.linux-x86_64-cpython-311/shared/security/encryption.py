"""Envelope encryption of identity data, and sealed identity blocks from provinces.

Each person's identity fields are encrypted (AES-256-GCM) with a data key of their own. The
data key is stored only wrapped by a master key that has an id, so master keys can rotate:
old wrapped keys still name the master that opens them. Destroying a person's wrapped data
key (crypto-shredding) makes their identity unrecoverable while events that mention only
their pseudonym stay valid.

Provinces send identity inside a libsodium sealed box (X25519 + XSalsa20-Poly1305) to the
client-case service's public key: only that service can open it; nothing on the bus or in a
log can.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.public import PrivateKey, PublicKey, SealedBox

NONCE_BYTES = 12


class CannotDecrypt(Exception):
    """Wrong key, tampered data, or a data key that was destroyed."""


@dataclass(frozen=True)
class WrappedKey:
    master_key_id: str
    wrapped: bytes


@dataclass(frozen=True)
class KeyRing:
    """Master keys by id; new data keys are wrapped with the current one."""

    masters: dict[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.masters:
            raise ValueError(f"no master key {self.current!r}")
        if any(len(k) != 32 for k in self.masters.values()):
            raise ValueError("master keys are 32 bytes (AES-256)")

    @classmethod
    def from_setting(cls, value: str, current: str) -> KeyRing:
        """Parse `id1:base64key,id2:base64key` (from a secret)."""
        masters = {}
        for item in value.split(","):
            key_id, _, encoded = item.strip().partition(":")
            masters[key_id] = base64.b64decode(encoded)
        return cls(masters, current)

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, self.wrap(data_key)

    def wrap(self, data_key: bytes) -> WrappedKey:
        return WrappedKey(
            self.current,
            _seal(self.masters[self.current], data_key, aad=f"data-key:{self.current}".encode()),
        )

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        master = self.masters.get(wrapped.master_key_id)
        if master is None:
            raise CannotDecrypt(f"master key {wrapped.master_key_id!r} is not in the ring")
        return _open(master, wrapped.wrapped, aad=f"data-key:{wrapped.master_key_id}".encode())

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same data key under the current master (key rotation)."""
        return self.wrap(self.unwrap(wrapped))


def encrypt_fields(data_key: bytes, fields: dict[str, Any], *, subject: str) -> bytes:
    """Identity fields as one AES-GCM ciphertext bound to its subject (the client id)."""
    return _seal(data_key, json.dumps(fields, sort_keys=True).encode(), aad=subject.encode())


def decrypt_fields(data_key: bytes, sealed: bytes, *, subject: str) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(_open(data_key, sealed, aad=subject.encode()))
    return fields


def _seal(key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except Exception as exc:  # InvalidTag and malformed input alike
        raise CannotDecrypt("the data cannot be decrypted with this key") from exc


# --- sealed identity blocks from provinces ---------------------------------------------------


def generate_service_keypair() -> tuple[str, str]:
    """(private, public) as base64: the public half is given to provincial systems."""
    private = PrivateKey.generate()
    return (
        base64.b64encode(bytes(private)).decode(),
        base64.b64encode(bytes(private.public_key)).decode(),
    )


def seal_identity(public_key_b64: str, identity: dict[str, Any]) -> str:
    """What a provincial system does before publishing: base64 of a sealed box."""
    box = SealedBox(PublicKey(base64.b64decode(public_key_b64)))
    return base64.b64encode(box.encrypt(json.dumps(identity).encode())).decode()


def open_identity(private_key_b64: str, sealed_b64: str) -> dict[str, Any]:
    try:
        box = SealedBox(PrivateKey(base64.b64decode(private_key_b64)))
        opened: dict[str, Any] = json.loads(box.decrypt(base64.b64decode(sealed_b64)))
    except Exception as exc:
        raise CannotDecrypt("the identity block is not sealed to this service") from exc
    return opened
