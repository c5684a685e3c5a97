"""Genomic sequence data: FASTA / BED readers, random-window sampling, the shipped real samples, and
the GenomicBenchmarks and Nucleotide Transformer task loaders.

    from spanmix.datasets.genomics import read_fasta, load_ecoli, load_oct4_mafk, WindowSampler

    genome = load_ecoli()                              # {"K-12-MG1655": "AGCTTTTC..."} (4.64 Mb, shipped)
    seqs, labels = load_oct4_mafk()                    # 7,797 x 200 bp ChIP-seq peaks, 0 = Oct4, 1 = Mafk
    sampler = WindowSampler(genome, length=1024, max_n_frac=0.1, seed=0)
    window = sampler.sample()                          # a random 1,024 bp window with <= 10% N

Plain readers only (no 2bit, no pysam): ``read_fasta`` reads ``.fa/.fasta/.fna`` and their ``.gz``;
``read_bed`` the first 3-6 BED columns; ``extract_intervals`` cuts BED intervals out of a genome
(reverse-complemented on the ``-`` strand). Soft-masked (lowercase) bases are kept as they are; the
tokenizer accepts them.

Standard benchmarks (download on request; nothing is fetched at import, test or demo time):

- **GenomicBenchmarks** (Grešová et al. 2023, BMC Genomic Data): the official layout
  ``<root>/<dataset>/{train,test}/<class name>/<id>.txt`` (one sequence per file), which is what the
  authors' package ``genomic-benchmarks`` writes (default root ``~/.genomic_benchmarks``). With
  ``download=True`` the loader calls that package's ``genomic_benchmarks.loc2seq.download_dataset``
  (``pip install genomic-benchmarks``; it fetches from the authors' storage; we publish no checksum
  because we could not obtain one here).
- **Nucleotide Transformer downstream tasks** (Dalla-Torre et al. 2023): the released FASTA layout
  ``<root>/<task>/{train,test}.fna`` whose headers end in ``|<label>``, from the Hugging Face dataset
  ``InstaDeepAI/nucleotide_transformer_downstream_tasks`` (``NT_URL``; no published checksum).

Offline, both raise :class:`DatasetNotAvailable` saying where to put the files.
"""

from __future__ import annotations

import gzip
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from spanmix.datasets.cache import cache_dir

__all__ = [
    "GENOMIC_BENCHMARKS",
    "NT_TASKS",
    "NT_URL",
    "SAMPLES_DIR",
    "DatasetNotAvailable",
    "WindowSampler",
    "extract_intervals",
    "load_ecoli",
    "load_genomic_benchmark",
    "load_nt_task",
    "load_oct4_mafk",
    "n_fraction",
    "read_bed",
    "read_fasta",
    "reverse_complement_str",
    "stratified_split",
]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
ECOLI_FILE = "ecoli_mg1655.fasta.gz"
OCT4_FILE, MAFK_FILE = "oct4_peaks.fa.gz", "mafk_peaks.fa.gz"
GENOMIC_BENCHMARKS = (
    "demo_coding_vs_intergenomic_seqs",
    "demo_human_or_worm",
    "dummy_mouse_enhancers_ensembl",
    "human_enhancers_cohn",
    "human_enhancers_ensembl",
    "human_ensembl_regulatory",
    "human_nontata_promoters",
    "human_ocr_ensembl",
    "drosophila_enhancers_stark",
)
NT_TASKS = (
    "H3",
    "H3K14ac",
    "H3K36me3",
    "H3K4me1",
    "H3K4me2",
    "H3K4me3",
    "H3K79me3",
    "H3K9ac",
    "H4",
    "H4ac",
    "enhancers",
    "enhancers_types",
    "promoter_all",
    "promoter_no_tata",
    "promoter_tata",
    "splice_sites_acceptors",
    "splice_sites_all",
    "splice_sites_donors",
)
NT_URL = (
    "https://huggingface.co/datasets/InstaDeepAI/nucleotide_transformer_downstream_tasks/resolve/main/"
    "{task}/{split}.fna"
)
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


class DatasetNotAvailable(RuntimeError):
    """A dataset is not in the cache and was not (or could not be) downloaded."""


# --------------------------------------------------------------------------------------------- readers
def _open_text(path: str | os.PathLike):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def iter_fasta(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Yield ``(header, sequence)`` for each record (header without ``>``; sequence lines joined)."""
    header, chunks = None, []
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith(";"):
                continue
            if line.startswith(">"):
                if header is not None:
                    yield header, "".join(chunks)
                header, chunks = line[1:].strip(), []
            elif header is None:
                raise ValueError(f"{path}: line {lineno} is sequence before any '>' header; expected FASTA")
            else:
                chunks.append(line)
    if header is not None:
        yield header, "".join(chunks)


def read_fasta(path: str | os.PathLike) -> dict[str, str]:
    """``{record name: sequence}`` (the name is the header's first word). Empty files are an error."""
    records = {header.split()[0] if header else "": seq for header, seq in iter_fasta(path)}
    if not records:
        raise ValueError(f"{path}: no FASTA records ('>name' lines) found")
    return records


def read_bed(path: str | os.PathLike) -> list[tuple[str, int, int, str, str]]:
    """BED intervals ``(chrom, start, end, name, strand)`` (0-based, half-open; name/strand default
    ``""``/``"+"``). Header, ``track`` and ``browser`` lines are skipped."""
    out = []
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 3:
                raise ValueError(
                    f"{path}: line {lineno} has {len(cols)} column(s); BED needs chrom, start, end"
                )
            try:
                start, end = int(cols[1]), int(cols[2])
            except ValueError:
                raise ValueError(
                    f"{path}: line {lineno}: start/end must be integers, got {cols[1:3]}"
                ) from None
            if not 0 <= start < end:
                raise ValueError(f"{path}: line {lineno}: need 0 <= start < end, got {start}, {end}")
            strand = cols[5] if len(cols) > 5 and cols[5] in "+-" else "+"
            out.append((cols[0], start, end, cols[3] if len(cols) > 3 else "", strand))
    return out


def reverse_complement_str(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def extract_intervals(genome: dict[str, str], intervals) -> list[str]:
    """The sequences of BED ``intervals`` (as from ``read_bed``) in ``genome``; ``-`` strand is
    reverse-complemented. Unknown chromosomes and intervals past the end are errors."""
    out = []
    for chrom, start, end, *rest in intervals:
        if chrom not in genome:
            raise ValueError(f"interval on {chrom!r}, which is not in the genome ({sorted(genome)[:5]} ...)")
        if end > len(genome[chrom]):
            raise ValueError(
                f"interval {chrom}:{start}-{end} ends past {chrom}'s length {len(genome[chrom])}"
            )
        seq = genome[chrom][start:end]
        out.append(reverse_complement_str(seq) if rest and rest[-1] == "-" else seq)
    return out


def n_fraction(seq: str) -> float:
    return (seq.count("N") + seq.count("n")) / max(len(seq), 1)


class WindowSampler:
    """Random fixed-length windows from a genome, weighted by record length, rejecting windows with more
    than ``max_n_frac`` N (the HyenaDNA pretraining loader samples intervals the same way, Sec. 3.3).

    Args:
        genome: ``{name: sequence}``; ``regions``: optional ``(start, end)`` (for every record) or
            ``{name: (start, end)}`` restricting windows to that slice (the contiguous train/val/test split).
        length: window length. max_n_frac: N filter. seed: RNG seed.
    """

    def __init__(
        self,
        genome: dict[str, str],
        length: int,
        *,
        regions: tuple[int, int] | dict[str, tuple[int, int]] | None = None,
        max_n_frac: float = 0.1,
        seed: int = 0,
        max_tries: int = 100,
    ):
        if length < 1:
            raise ValueError(f"WindowSampler: length must be >= 1, got {length}")
        self.records = []
        for name, seq in genome.items():
            lo, hi = (regions.get(name, (0, 0)) if isinstance(regions, dict) else regions) or (0, len(seq))
            if hi - lo >= length:
                self.records.append((name, seq, lo, hi))
        if not self.records:
            raise ValueError(f"WindowSampler: no record (region) is at least {length} bp long")
        sizes = np.array([hi - lo - length + 1 for _, _, lo, hi in self.records], dtype=np.float64)
        self.p = sizes / sizes.sum()
        self.length, self.max_n_frac, self.max_tries = length, max_n_frac, max_tries
        self.rng = np.random.default_rng(seed)

    def sample(self, rng: np.random.Generator | None = None) -> str:
        """One window (``rng``: a generator to draw from instead of the sampler's own)."""
        rng = rng or self.rng
        for _ in range(self.max_tries):
            _, seq, lo, hi = self.records[rng.choice(len(self.records), p=self.p)]
            start = int(rng.integers(lo, hi - self.length + 1))
            window = seq[start : start + self.length]
            if n_fraction(window) <= self.max_n_frac:
                return window
        raise ValueError(
            f"WindowSampler: no window with <= {self.max_n_frac:.0%} N in {self.max_tries} tries"
        )


def stratified_split(labels, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded stratified split of indices into ``train``/``val``/``test`` with the given fractions."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        a = round(fractions[0] * len(idx))
        b = a + round(fractions[1] * len(idx))
        for key, part in zip(parts, (idx[:a], idx[a:b], idx[b:])):
            parts[key].append(part)
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


# --------------------------------------------------------------------------------------------- samples
def _sample(file: str) -> Path:
    path = SAMPLES_DIR / file
    if not path.is_file():
        raise DatasetNotAvailable(
            f"the shipped sample {path} is missing; recreate it with "
            "`python datasets/prepare_genomics_sample.py` (see datasets/samples/README.md)"
        )
    return path


def load_ecoli() -> dict[str, str]:
    """E. coli K-12 MG1655 reference genome (4,639,675 bp, from Debian's ``ragout-examples``)."""
    return read_fasta(_sample(ECOLI_FILE))


def load_oct4_mafk() -> tuple[list[str], np.ndarray]:
    """Oct4 (label 0) and Mafk (label 1) ChIP-seq peaks, 200 bp each (from the ``janggu`` wheel)."""
    oct4 = [s for _, s in iter_fasta(_sample(OCT4_FILE))]
    mafk = [s for _, s in iter_fasta(_sample(MAFK_FILE))]
    return oct4 + mafk, np.array([0] * len(oct4) + [1] * len(mafk), dtype=np.int64)


# --------------------------------------------------------------------------------------------- benchmarks
def _gb_root(root: str | os.PathLike | None) -> Path:
    return Path(root or os.environ.get("SPANMIX_GENOMIC_BENCHMARKS", "~/.genomic_benchmarks")).expanduser()


def load_genomic_benchmark(
    name: str, split: str = "train", root: str | os.PathLike | None = None, download: bool = False
) -> tuple[list[str], np.ndarray, list[str]]:
    """Sequences, integer labels and class names (sorted folder names) of a GenomicBenchmarks split."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = _gb_root(root) / name / split
    if not folder.is_dir():
        if not download:
            raise DatasetNotAvailable(
                f"GenomicBenchmarks {name!r} is not at {folder}. Offline: copy the official folder "
                f"'{name}/{{train,test}}/<class>/*.txt' there (or set $SPANMIX_GENOMIC_BENCHMARKS); online: "
                "pass download=True (needs `pip install genomic-benchmarks`). Known names: "
                + ", ".join(GENOMIC_BENCHMARKS)
            )
        try:
            from genomic_benchmarks.loc2seq import download_dataset
        except ImportError as e:
            raise DatasetNotAvailable(
                "download=True needs the authors' package: pip install genomic-benchmarks"
            ) from e
        try:
            download_dataset(name, dest_path=_gb_root(root))
        except Exception as e:  # network errors of several kinds from gdown/requests
            raise DatasetNotAvailable(f"could not download GenomicBenchmarks {name!r}: {e}") from e
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DatasetNotAvailable(f"{folder} has no class folders; expected {folder}/<class>/*.txt")
    seqs, labels = [], []
    for label, cls in enumerate(classes):
        for file in sorted((folder / cls).glob("*.txt")):
            seqs.append(file.read_text().strip())
            labels.append(label)
    return seqs, np.array(labels, dtype=np.int64), classes


def load_nt_task(
    task: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    download: bool = False,
    timeout: float = 60.0,
) -> tuple[list[str], np.ndarray]:
    """Sequences and labels of a Nucleotide Transformer downstream task (``<root>/<task>/<split>.fna``)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = cache_dir("genomics", root) / "nt_tasks"
    path = root / task / f"{split}.fna"
    if not path.is_file():
        url = NT_URL.format(task=task, split=split)
        if not download:
            raise DatasetNotAvailable(
                f"Nucleotide Transformer task {task!r} is not at {path}. Offline: put the "
                f"released file there ({url}); online: pass download=True. "
                "Known tasks: " + ", ".join(NT_TASKS)
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as out:
                out.write(r.read())
            os.replace(tmp, path)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            tmp.unlink(missing_ok=True)
            raise DatasetNotAvailable(
                f"could not download {url}: {e}; fetch it elsewhere and put it at {path}"
            ) from e
    seqs, labels = [], []
    for header, seq in iter_fasta(path):
        _, sep, label = header.rpartition("|")
        if not sep or not label.strip().lstrip("-").isdigit():
            raise ValueError(f"{path}: header {header!r} does not end in '|<integer label>'")
        seqs.append(seq)
        labels.append(int(label))
    return seqs, np.array(labels, dtype=np.int64)
