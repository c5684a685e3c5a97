import pytest
import torch
from spanmix.apps.genomics.tokenizer import (
    BASES,
    SPECIAL_TOKENS,
    CharTokenizer,
    check_dna,
    reverse_complement,
)


def test_round_trip_and_soft_mask():
    tok = CharTokenizer()
    seq = "ACGTNacgtnGATTACA"
    ids = tok.encode(seq)
    assert len(ids) == len(seq)
    assert tok.decode(ids) == seq.upper()
    assert ids[:5] == ids[5:10]  # lowercase (soft-masked) bases map to the same ids
    assert tok.vocab_size == len(SPECIAL_TOKENS) + len(BASES)


def test_special_tokens():
    tok = CharTokenizer()
    ids = tok.encode("AC", add_special=True)
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id == tok.eos_id
    assert tok.decode(ids) == "AC"
    assert tok.decode(ids, skip_special=False) == "[CLS]AC[SEP]"


@pytest.mark.parametrize(
    "seq, pos, ch", [("ACGX", 3, "X"), ("U", 0, "U"), ("AC GT", 2, " "), ("ACé", 2, "é")]
)
def test_bad_character_names_position(seq, pos, ch):
    with pytest.raises(ValueError, match=rf"{ch!r} at position {pos}"):
        CharTokenizer().encode(seq)
    with pytest.raises(ValueError, match="position"):
        check_dna(seq)


def test_reverse_complement():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgT") == "Acgt"
    s = "GATTACANNC"
    assert reverse_complement(reverse_complement(s)) == s
    with pytest.raises(ValueError, match="position 1"):
        reverse_complement("AZ")


def test_truncation_and_batch_padding():
    tok = CharTokenizer(model_max_length=3)
    assert tok.decode(tok.encode("ACGTA")) == "GTA"  # keeps the end (what a causal LM conditions on)
    batch = CharTokenizer().batch_encode(["ACG", "A"])
    assert batch.shape == (2, 3) and batch.dtype == torch.long
    assert batch[1, :2].tolist() == [tok.pad_id, tok.pad_id] and batch[1, 2] == tok.vocab["A"]


def test_ids_equal_the_official_character_tokenizer():
    # standalone_hyenadna.py CharacterTokenizer(characters=['A', 'C', 'G', 'T', 'N']): its _vocab_str_to_int
    official = {"[CLS]": 0, "[SEP]": 1, "[BOS]": 2, "[MASK]": 3, "[PAD]": 4, "[RESERVED]": 5, "[UNK]": 6,
                "A": 7, "C": 8, "G": 9, "T": 10, "N": 11}
    assert CharTokenizer().vocab == official
