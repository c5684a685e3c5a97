"""Speaker-context selection: the target first, the most-overlapping co-occurring faces, padded by repeats."""
from __future__ import annotations

import pytest

from spanmix.apps.video.asd.context import select_context


def test_picks_the_two_that_overlap_most():
    frames = {"t": range(0, 10), "a": range(0, 6), "b": range(0, 10), "c": range(3, 11), "d": range(8, 20)}
    assert select_context("t", frames, 3) == ["t", "b", "c"]  # shared: b 10, c 7, a 6, d 2 (<= half)


def test_padding_by_repeats():
    assert select_context("t", {"t": range(10)}, 3) == ["t", "t", "t"]
    assert select_context("t", {"t": range(10), "a": range(10), "z": range(50, 60)}, 3) == ["t", "a", "a"]
    assert select_context("t", {"t": range(10), "a": range(10), "b": range(9)}, 5) == ["t", "a", "b", "a", "b"]


def test_errors():
    with pytest.raises(ValueError, match="not among the tracks"):
        select_context("x", {"t": [1]})
    with pytest.raises(ValueError, match="speakers must be"):
        select_context("t", {"t": [1]}, 0)
