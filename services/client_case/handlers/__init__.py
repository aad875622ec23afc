"""The client-case use cases. Each loads what its rule needs, lets the domain decide, stores
the result and stages the canonical event in the outbox, in the caller's transaction.

Privacy is enforced here: identity is encrypted before it is stored, events carry only the
pseudonymous `client_ref`, identity reads need a reason and are audited, and erasure destroys
the person's data key.
"""

from services.client_case.handlers.cases import (
    handle_change_stage,
    handle_close,
    handle_enrol,
    handle_refer,
    handle_report_relapse,
    handle_resolve_referral,
    handle_screen_client,
    handle_transfer,
)
from services.client_case.handlers.common import (
    Gone,
    Identity,
    Keys,
    NotFound,
    load_case,
    require_active_unit,
)
from services.client_case.handlers.identity import (
    Reader,
    client_row,
    handle_change_identity,
    handle_erase_client,
    handle_read_identity,
    handle_register_client,
    identity_audit,
    label_of,
)

__all__ = [
    "Gone",
    "Identity",
    "Keys",
    "NotFound",
    "Reader",
    "client_row",
    "handle_change_identity",
    "handle_change_stage",
    "handle_close",
    "handle_enrol",
    "handle_erase_client",
    "handle_read_identity",
    "handle_refer",
    "handle_register_client",
    "handle_report_relapse",
    "handle_resolve_referral",
    "handle_screen_client",
    "handle_transfer",
    "identity_audit",
    "label_of",
    "load_case",
    "require_active_unit",
]
