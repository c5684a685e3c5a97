"""The shipped music caches: loadable, well-formed (bar flags agree with meter/pickup), split by piece."""
import pytest
from spanmix.datasets.music import SAMPLES, load_sample, skipped, split_pieces


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_are_well_formed(name):
    sheets = load_sample(name)
    assert len(sheets) >= 9
    for s in sheets:
        s.check_bars()
        assert s.key.split()[1] in ("major", "minor") and -6 <= s.transposition <= 5
    parts = split_pieces(sheets)
    assert sum(map(len, parts.values())) == len(sheets)


def test_oneill_is_the_low_resource_style():
    assert {s.source.split("/")[0] for s in load_sample("oneill")} == {"oneills1850"}
    assert "off-grid durations (tuplets/32nds)" in skipped("folk")


def test_essen_and_oneill_partition_folk():
    folk, essen, oneill = (load_sample(n) for n in ("folk", "essen", "oneill"))
    assert {s.source.split("/")[0] for s in essen} == {"essenFolksong"}
    assert len(essen) + len(oneill) == len(folk) and len(essen) > 2 * len(oneill)


def test_unknown_sample():
    with pytest.raises(ValueError, match="unknown music sample"):
        load_sample("jazz")
