"""The personal data the tests use, and the suite-wide search for it.

Every test that handles a NIK, name or phone takes it from here. When the run ends, every
record on every topic of the broker and every log line written during the run is searched for
these values in clear; finding one fails the run (see conftest.py)."""

from __future__ import annotations

NIK = "7471011504950001"
NIK_SPACED = "7471 0115 0495 0001"
NAME = "Wa Ode Fiktif Rahmawati"
PHONE = "081234567890"
SECOND_NIK = "7471016108880003"
SECOND_NAME = "La Ode Contoh Fiktif"

SENSITIVE = (NIK, NIK_SPACED, NAME, "Fiktif", PHONE, "81234567890", SECOND_NIK, SECOND_NAME)
