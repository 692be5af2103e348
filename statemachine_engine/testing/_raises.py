"""raises: ``pytest.raises`` for the public checks, which must not need pytest to import."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def raises(expected: type[BaseException], match: str | None = None) -> Iterator[None]:
    """Fail unless the block raises ``expected`` (whose text matches ``match``, a regex)."""
    try:
        yield
    except expected as exc:
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(
                f"{type(exc).__name__} raised, but {str(exc)!r} does not match {match!r}"
            ) from exc
    else:
        raise AssertionError(f"{expected.__name__} was not raised")
