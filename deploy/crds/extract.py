"""Writes each served version's openAPIV3Schema of the given CRD files to schemas/ (see fetch.sh).

    python extract.py --out DIR --source TEXT CRD.yaml... [--source TEXT CRD.yaml...]

One JSON file per group, version and kind (`schemas/<group>/<version>/<Kind>.json`), plus
`schemas/index.json` naming where each came from and which versions the CRD serves. The
descriptions are dropped (they are most of the size and validate nothing); nothing else changes.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml


def without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        # `description` is an annotation keyword, except where it is a property's name.
        return {
            key: without_descriptions(value)
            for key, value in node.items()
            if key != "description" or isinstance(value, dict)
        }
    if isinstance(node, list):
        return [without_descriptions(item) for item in node]
    return node


def main(argv: list[str]) -> None:
    out: Path | None = None
    source = ""
    crds: list[tuple[str, Path]] = []
    args = iter(argv)
    for arg in args:
        if arg == "--out":
            out = Path(next(args))
        elif arg == "--source":
            source = next(args)
        else:
            crds.append((source, Path(arg)))
    if out is None or not crds:
        raise SystemExit(__doc__)

    index: dict[str, dict[str, Any]] = {}
    schemas: dict[Path, Any] = {}
    for source, path in crds:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            served = [v for v in spec["versions"] if v.get("served")]
            index.setdefault(group, {})[kind] = {
                "source": source,
                "served": [v["name"] for v in served],
            }
            for version in served:
                schema = without_descriptions(version["schema"]["openAPIV3Schema"])
                schemas[Path(group, version["name"], f"{kind}.json")] = schema

    shutil.rmtree(out, ignore_errors=True)
    for relative, schema in schemas.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    (out / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(schemas)} schemas to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
