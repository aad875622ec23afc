"""NIK checks, keyed pseudonyms, envelope encryption with crypto-shredding and key rotation,
and sealed identity blocks: what keeps a person's identity off the bus and out of reach."""

from __future__ import annotations

import base64
import os
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.security.encryption import (
    CannotDecrypt,
    KeyRing,
    WrappedKey,
    decrypt_fields,
    encrypt_fields,
    generate_service_keypair,
    open_identity,
    seal_identity,
)
from shared.security.identity import nik_problems, normalise_nik, pseudonym

TODAY = date(2026, 11, 22)
KEY = b"k" * 32
# Fictitious NIKs: province 74, regency 71, district 01; born 15-04-1995 (woman: 55).
MAN, WOMAN = "7471011504950001", "7471015504950002"


def test_plausible_niks_pass_and_are_normalised() -> None:
    assert normalise_nik("7471 0115.0495-0001") == MAN
    assert nik_problems(MAN, today=TODAY) == []
    assert nik_problems(WOMAN, today=TODAY) == []


@pytest.mark.parametrize(
    ("nik", "rule"),
    [
        ("747101150495000", "nik-16-digits"),
        ("74710115049500a1", "nik-16-digits"),
        ("0971011504950001", "nik-region"),
        ("7400011504950001", "nik-region"),
        ("7471013204950001", "nik-birth-date"),  # 32nd day
        ("7471011513950001", "nik-birth-date"),  # 13th month
        ("7471011504950000", "nik-serial"),
    ],
)
def test_implausible_niks_name_the_rule_and_never_echo_the_nik(nik: str, rule: str) -> None:
    problems = nik_problems(nik, today=TODAY)
    assert rule in {p.rule for p in problems}
    assert all(nik not in p.message for p in problems)


def test_pseudonym_is_stable_keyed_and_not_the_nik() -> None:
    ref = pseudonym(KEY, MAN)
    assert len(ref) == 64 and int(ref, 16) >= 0
    assert pseudonym(KEY, "7471 0115 0495 0001") == ref  # same person, however written
    assert pseudonym(b"x" * 32, MAN) != ref  # without the key, no link
    assert pseudonym(KEY, WOMAN) != ref
    assert MAN not in ref
    with pytest.raises(ValueError):
        pseudonym(b"short", MAN)


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_distinct_niks_get_distinct_pseudonyms(nik: str) -> None:
    other = nik[:-1] + str((int(nik[-1]) + 1) % 10)
    assert pseudonym(KEY, nik) != pseudonym(KEY, other)


def test_identity_round_trips_and_shredding_the_data_key_ends_it() -> None:
    ring = KeyRing({"m1": os.urandom(32)}, current="m1")
    data_key, wrapped = ring.new_data_key()
    identity = {"nik": MAN, "name": "Wa Ode Fiktif", "phone": "081234567890"}
    sealed = encrypt_fields(data_key, identity, subject="client-1")
    for secret in identity.values():
        assert secret.encode() not in sealed
    assert decrypt_fields(ring.unwrap(wrapped), sealed, subject="client-1") == identity
    with pytest.raises(CannotDecrypt):  # bound to its subject: no swapping rows
        decrypt_fields(data_key, sealed, subject="client-2")
    # Crypto-shredding: with the wrapped key destroyed, no key in the ring opens the data.
    for guess in (*ring.masters.values(), os.urandom(32)):
        with pytest.raises(CannotDecrypt):
            decrypt_fields(guess, sealed, subject="client-1")


def test_master_keys_rotate_without_losing_old_data() -> None:
    old = KeyRing({"m1": os.urandom(32)}, current="m1")
    data_key, wrapped = old.new_data_key()
    rotated = KeyRing({**old.masters, "m2": os.urandom(32)}, current="m2")
    assert rotated.unwrap(wrapped) == data_key
    rewrapped = rotated.rewrap(wrapped)
    assert rewrapped.master_key_id == "m2"
    assert KeyRing({"m2": rotated.masters["m2"]}, current="m2").unwrap(rewrapped) == data_key
    with pytest.raises(CannotDecrypt):
        KeyRing({"m2": rotated.masters["m2"]}, current="m2").unwrap(wrapped)
    with pytest.raises(CannotDecrypt):
        old.unwrap(WrappedKey("m1", wrapped.wrapped[:-1] + b"\x00"))


def test_key_ring_from_a_secret_setting() -> None:
    a, b = os.urandom(32), os.urandom(32)
    setting = f"m1:{base64.b64encode(a).decode()}, m2:{base64.b64encode(b).decode()}"
    ring = KeyRing.from_setting(setting, current="m2")
    assert ring.masters == {"m1": a, "m2": b}
    with pytest.raises(ValueError):
        KeyRing({"m1": b"short"}, current="m1")


def test_only_the_service_opens_a_provinces_sealed_identity_block() -> None:
    private, public = generate_service_keypair()
    sealed = seal_identity(public, {"nik": MAN, "name": "Wa Ode Fiktif"})
    assert MAN not in sealed and "Fiktif" not in sealed
    assert MAN not in base64.b64decode(sealed).decode(errors="replace")
    assert open_identity(private, sealed) == {"nik": MAN, "name": "Wa Ode Fiktif"}
    stranger, _ = generate_service_keypair()
    with pytest.raises(CannotDecrypt):
        open_identity(stranger, sealed)
