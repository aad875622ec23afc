"""Log lines are JSON, carry the trace id, and never hold a NIK or phone number in clear."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.telemetry import setup_logging, tracer


def test_log_lines_carry_trace_ids_and_no_nik_or_phone(spans: InMemorySpanExporter) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("registry", stream=stream)
    try:
        with tracer().start_as_current_span("request") as span:
            logging.getLogger("pulih.test").warning(
                "client %s called from %s", "7471014506900001", "+6281234567890"
            )
        expected_trace = format(span.get_span_context().trace_id, "032x")
    finally:
        root.handlers[:], root.level = handlers, level
    output = stream.getvalue()
    line = json.loads(output.strip().splitlines()[-1])
    assert line["trace_id"] == expected_trace
    assert line["service"] == "registry"
    assert line["level"] == "WARNING"
    assert "7471014506900001" not in output
    assert "81234567890" not in output
    assert "[redacted-nik]" in line["message"] and "[redacted-phone]" in line["message"]
