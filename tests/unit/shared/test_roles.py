"""The roles a token grants: a scope that names no real province, regency or unit is refused,
never widened or ignored."""

from __future__ import annotations

import pytest

from shared.security.roles import Grant, NotAuthenticated, Role, parse_grants


def test_well_formed_roles_are_parsed_with_their_scopes() -> None:
    grants = parse_grants(
        [
            "national-operator",
            "province-operator:74",
            "district-operator:74.71",
            "unit-agent:01JB7Q2M5X9R3T8V6W4Y2Z0A1C",
        ]
    )
    assert grants == [
        Grant(Role.NATIONAL_OPERATOR, None),
        Grant(Role.PROVINCE_OPERATOR, "74"),
        Grant(Role.DISTRICT_OPERATOR, "74.71"),
        Grant(Role.UNIT_AGENT, "01JB7Q2M5X9R3T8V6W4Y2Z0A1C"),
    ]


@pytest.mark.parametrize(
    "header",
    [
        "province-operator:7",
        "province-operator:99",
        "province-operator:74.71",
        "district-operator:74",
        "district-operator:99.01",
        "unit-agent:u1",
        "unit-agent:../../etc",
        "national-operator:74",
        "province-operator",
        "province-system:00",
        "superuser",
        "",
    ],
)
def test_malformed_roles_are_refused(header: str) -> None:
    with pytest.raises(NotAuthenticated):
        parse_grants([header])
