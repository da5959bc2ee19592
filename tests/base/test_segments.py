"""The one segment rule: what is minted is canonical, and any spelling resolves to it."""

from __future__ import annotations

import pytest
from jobtrail.base.segments import canonical_path, canonical_segment, segment


@pytest.mark.parametrize(
    "value", [None, "-", "TDR", "Zürich", "a b", "a/b", "a%2Fb", ";x", '<"{|}>', 42, [1, "ä"]]
)
def test_a_minted_segment_is_canonical(value: object) -> None:
    minted = segment(value)
    assert canonical_segment(minted.encode()) == minted


@pytest.mark.parametrize(
    "sent, canonical",
    [
        (b"/producers/Z%c3%bcrich", "/producers/Z%C3%BCrich"),
        (b"/producers/Z\xc3\xbcrich", "/producers/Z%C3%BCrich"),  # raw UTF-8 bytes
        (b"/producers/%54DR", "/producers/TDR"),  # an unreserved character encoded
        (b"/producers/TDR%2Fp/e", "/producers/TDR%2Fp/e"),  # an encoded slash stays in its segment
        (b"/producers/-/%2d", "/producers/-/%2D"),  # none, and the string "-"
    ],
)
def test_any_spelling_resolves_to_the_canonical_path(sent: bytes, canonical: str) -> None:
    assert canonical_path(sent) == canonical
