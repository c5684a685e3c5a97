"""Single-nucleotide character tokenizer for DNA (HyenaDNA, Nguyen et al. 2023, Sec. 3.1 / App. A.1).

    tok = CharTokenizer()
    ids = tok.encode("ACGTn")                  # [7, 8, 9, 10, 11]  (lowercase = soft-masked: accepted)
    tok.decode(ids)                            # "ACGTN"
    tok.encode("ACGT", add_special=True)       # [CLS] A C G T [SEP]
    reverse_complement("AACGN")                # "NCGTT"

Vocabulary (12 ids, fixed order so checkpoints stay compatible): the seven special tokens
``[CLS]``=0, ``[SEP]``=1 (also EOS), ``[BOS]``=2, ``[MASK]``=3, ``[PAD]``=4, ``[RESERVED]``=5,
``[UNK]``=6, then ``A C G T N`` = 7..11: exactly the ids of the published ``CharacterTokenizer``
(``standalone_hyenadna.py``: the same seven specials at 0..6, then ``characters=['A','C','G','T','N']`` from
7), so official checkpoints need no id remapping (their embedding is padded to 16 rows; see
``spanmix.apps.genomics.official``). Anything other than A/C/G/T/N in either
case raises one ``ValueError`` naming the first bad position and character.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

__all__ = ["BASES", "SPECIAL_TOKENS", "CharTokenizer", "check_dna", "reverse_complement"]

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]")
BASES = "ACGTN"
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def check_dna(seq: str, where: str = "sequence") -> str:
    """Return ``seq`` upper-cased; raise ValueError at the first character that is not A/C/G/T/N."""
    if not isinstance(seq, str):
        raise ValueError(f"{where} must be a string of A/C/G/T/N, got {type(seq).__name__}")
    upper = seq.upper()
    if upper.strip(BASES):  # fast path: only scan when something else is present
        for i, ch in enumerate(upper):
            if ch not in BASES:
                raise ValueError(
                    f"{where}: invalid character {seq[i]!r} at position {i} (0-based); "
                    "expected only A, C, G, T or N (lowercase soft-masked bases are accepted)"
                )
    return upper


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA string (case kept; N stays N); bad characters raise ValueError."""
    check_dna(seq)
    return seq.translate(_COMPLEMENT)[::-1]


class CharTokenizer:
    """Maps DNA characters to ids one per nucleotide (no k-mers), as HyenaDNA does.

    Args:
        model_max_length: longest encoded sequence (``encode`` truncates from the left by default, keeping
            the bases nearest the end, which is what a causal LM conditions on); None: no limit.
    """

    def __init__(self, model_max_length: int | None = None):
        self.model_max_length = model_max_length
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
        for ch in BASES:
            self.vocab[ch] = len(self.vocab)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self._lut = np.full(256, -1, dtype=np.int64)
        for ch in BASES:
            self._lut[ord(ch)] = self._lut[ord(ch.lower())] = self.vocab[ch]

    # ids of the special tokens
    cls_id, sep_id, bos_id, mask_id, pad_id, reserved_id, unk_id = range(7)
    eos_id = sep_id

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def base_ids(self) -> list[int]:
        return [self.vocab[ch] for ch in BASES]

    def encode(self, seq: str, add_special: bool = False, truncate: str = "left") -> list[int]:
        """Ids of ``seq`` (``[CLS] ... [SEP]`` around it with ``add_special``)."""
        return self.encode_array(seq, add_special, truncate).tolist()

    def encode_array(self, seq: str, add_special: bool = False, truncate: str = "left") -> np.ndarray:
        """Like ``encode`` but a numpy int64 array (fast for whole genomes)."""
        if not isinstance(seq, str):
            raise ValueError(f"sequence must be a string of A/C/G/T/N, got {type(seq).__name__}")
        raw = np.frombuffer(seq.encode("latin-1", errors="replace"), dtype=np.uint8)
        ids = self._lut[raw]
        if len(seq) != len(raw) or (ids < 0).any():
            check_dna(seq)  # raises naming the first bad position
        if add_special:
            ids = np.concatenate([[self.cls_id], ids, [self.sep_id]])
        limit = self.model_max_length
        if limit is not None and len(ids) > limit:
            if truncate not in ("left", "right"):
                raise ValueError(f"truncate must be 'left' or 'right', got {truncate!r}")
            ids = ids[-limit:] if truncate == "left" else ids[:limit]
        return ids

    def decode(self, ids: Iterable[int] | torch.Tensor, skip_special: bool = True) -> str:
        """Characters of ``ids`` (special tokens dropped with ``skip_special``)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        for i in ids:
            token = self.ids_to_tokens.get(int(i))
            if token is None:
                raise ValueError(f"unknown token id {i}; ids are 0..{self.vocab_size - 1}")
            if token in SPECIAL_TOKENS:
                if not skip_special:
                    out.append(token)
            else:
                out.append(token)
        return "".join(out)

    def batch_encode(
        self, seqs: Sequence[str], length: int | None = None, pad_left: bool = True
    ) -> torch.Tensor:
        """(B, length) LongTensor, padded with ``[PAD]`` (on the left by default, as the published
        classification loaders do) to ``length`` or the longest sequence."""
        rows = [self.encode_array(s) for s in seqs]
        length = length or max(len(r) for r in rows)
        out = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            r = torch.from_numpy(r[-length:])
            if pad_left:
                out[i, length - len(r) :] = r
            else:
                out[i, : len(r)] = r
        return out
