from collections.abc import Iterable
from typing import Any

def rows(
    rows: Iterable[dict[str, Any]], columns: tuple[tuple[str, int], ...], generation: int, /
) -> bytes: ...
def ids(ids: Iterable[str], generation: int, /) -> bytes: ...
