"""Settings of the client-case service (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS).

The keys here protect people's identities. The development values are derived from a fixed
phrase so `make run` works from nothing; outside development they are refused."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from services.client_case.domain.pathway import RoutingPolicy
from shared.security.keys import MasterKeys, development_key
from shared.settings import Environment, ServiceSettings

SERVICE_NAME = "client-case"


DEV_PSEUDONYM_KEY = development_key("pseudonym")
DEV_IDENTITY_KEY = development_key("identity box")


class Settings(ServiceSettings, MasterKeys):
    service_name: str = SERVICE_NAME
    pseudonym_key: SecretStr = Field(
        default=SecretStr(DEV_PSEUDONYM_KEY),
        description="base64 of 32+ bytes: the HMAC key of client_ref pseudonyms. Never rotate "
        "it casually: a new key gives everyone a new pseudonym.",
    )
    identity_private_key: SecretStr = Field(
        default=SecretStr(DEV_IDENTITY_KEY),
        description="base64 X25519 private key; provinces seal identity blocks to its public key.",
    )
    drop_out_policy: Literal["flag", "close"] = Field(
        default="flag",
        description=(
            "What a case at risk of dropping out (scheduling's `CaseAtRiskOfDropOut`) gets: "
            "`flag` marks it for the unit's agents (`GET /cases?at_risk=true`); `close` closes "
            "it as dropped out."
        ),
    )
    routing: str = Field(
        default="high=balai_rehabilitasi,injecting=klinik_pratama",
        description="Default routing by risk level, e.g. `moderate=klinik_pratama,high=balai_"
        "rehabilitasi` (levels not named stay in the unit); `injecting=` says where a client "
        "who injected in the past 3 months goes when their level would keep them in the unit "
        "(a Klinik Pratama unless set; `injecting=unit` keeps them).",
    )
    routing_by_province: dict[str, str] = Field(
        default_factory=dict,
        description='Per province, e.g. {"74": "moderate=klinik_pratama,high=balai_rehabilitasi"}.',
    )
    referral_answer_days: int = Field(
        default=14, ge=1, description="After this, an unanswered referral is overdue."
    )

    @property
    def pseudonym_key_bytes(self) -> bytes:
        return base64.b64decode(self.pseudonym_key.get_secret_value())

    def routing_for(self, province_code: str) -> RoutingPolicy:
        return RoutingPolicy.parse(self.routing_by_province.get(province_code, self.routing))

    @model_validator(mode="after")
    def _refuse_development_keys(self) -> Settings:
        if self.environment is Environment.production and (
            self.pseudonym_key.get_secret_value() == DEV_PSEUDONYM_KEY
            or self.development_master_keys
            or self.identity_private_key.get_secret_value() == DEV_IDENTITY_KEY
        ):
            raise ValueError(
                "client-case keys must be set in production (PULIH_PSEUDONYM_KEY, "
                "PULIH_MASTER_KEYS, PULIH_IDENTITY_PRIVATE_KEY)"
            )
        return self
