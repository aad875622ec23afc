"""The master keys a service wraps people's data keys with, as settings (environment:
`PULIH_MASTER_KEYS`, `PULIH_CURRENT_MASTER_KEY`). The development values are derived from a
fixed phrase so `make run` works from nothing; in production they are refused."""

from __future__ import annotations

import base64
import hashlib

from pydantic import BaseModel, Field, SecretStr, model_validator

from shared.security.encryption import KeyRing


def development_key(label: str) -> str:
    """base64 of a key derived from a fixed phrase: for development only."""
    return base64.b64encode(
        hashlib.sha256(f"pulih development only: {label}".encode()).digest()
    ).decode()


DEV_MASTER_KEYS = f"dev1:{development_key('master')}"


class MasterKeys(BaseModel):
    """A mixin of service settings (a plain model: a settings base would reset their
    `PULIH_` prefix)."""

    master_keys: SecretStr = Field(
        default=SecretStr(DEV_MASTER_KEYS),
        description="`id:base64key,…`: the master keys that wrap each person's data key.",
    )
    current_master_key: str = Field(default="dev1", description="Id of the key for new data keys.")

    @property
    def key_ring(self) -> KeyRing:
        return KeyRing.from_setting(self.master_keys.get_secret_value(), self.current_master_key)

    @property
    def development_master_keys(self) -> bool:
        return DEV_MASTER_KEYS.split(":")[1] in self.master_keys.get_secret_value()

    @model_validator(mode="after")
    def _refuse_development_master_keys(self) -> MasterKeys:
        production = str(getattr(self, "environment", "")) == "production"
        if production and self.development_master_keys:
            raise ValueError("master keys must be set in production (PULIH_MASTER_KEYS)")
        return self
