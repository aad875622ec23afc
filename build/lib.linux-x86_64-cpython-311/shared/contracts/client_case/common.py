"""What the client-case contracts share: their context, their topic, and the examples their
fields show."""

CONTEXT = "client-case"
TOPIC = "ibm.client-case"

CLIENT_REF_EXAMPLE = "9f2c4e7a1b3d5f6087a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f"
CASE_ID_EXAMPLE = "01JD3K5M7P9R1T3V5X7Z9B1D3F"
AGENT_ID_EXAMPLE = "01JB8A3C5E7G9J1K3M5N7P9Q1R"
