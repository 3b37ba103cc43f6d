from typing import Any

def scan(
    buf: Any,
    pos: int,
    end: int,
    seen: set[int],
    headers: dict[int, tuple[bytes, int | None]],
    bodies: dict[int, tuple[bytes, int | None, int | None]],
    combos: dict[int, int],
    ids: list[int],
    cids: list[int],
    creators: list[int | None],
    /,
) -> tuple[int, int, int, Any, int]: ...
def key_hash(key: bytes, /) -> int: ...
