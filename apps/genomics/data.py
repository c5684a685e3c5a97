"""Data modules of the genomics app.

    dm = PretrainDataModule("ecoli", seq_len=1024, batch_size=8)         # next-nucleotide windows
    dm = ClassificationDataModule("oct4_mafk", batch_size=64)           # labelled 200 bp peaks

``PretrainDataModule``: the genome is split into contiguous regions — the first ``1 - val_frac -
test_frac`` of every record for training, then validation, then test — so no held-out base is ever
inside a training window. Training windows are random (``WindowSampler``, N-filtered), drawn afresh
each epoch (``tokens_per_epoch`` bases per epoch whatever the stage's length); validation and test
windows tile their region without overlap at the final ``seq_len``. A batch is ``{"ids": (B, L),
"target": (B, L)}`` with ``target`` the ids shifted by one (the window is L + 1 bases long).
``set_stage(seq_len, batch_size)`` switches the training windows for the warm-up schedule
(``spanmix.apps.genomics.warmup``).

``ClassificationDataModule``: ``oct4_mafk`` (shipped; seeded stratified 80/10/10 split), ``gb:<name>``
(GenomicBenchmarks; its test split is the test set, 10% of train is held out for validation) or
``nt:<task>`` (Nucleotide Transformer tasks, same rule). Batches are ``{"ids": (B, L), "label": (B,)}``
left-padded with ``[PAD]``; ``rc_augment`` reverse-complements training sequences with probability 1/2
(the published fine-tuning augmentation).
"""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from spanmix.apps.genomics.tokenizer import CharTokenizer, reverse_complement
from spanmix.datasets import genomics as gdata
from torch.utils.data import DataLoader, Dataset

__all__ = ["ClassificationDataModule", "PretrainDataModule"]

TOKENIZER = CharTokenizer()
GENOMES = {"ecoli": gdata.load_ecoli}


def load_genome(name: str) -> dict[str, str]:
    if name in GENOMES:
        return GENOMES[name]()
    if name.endswith((".fa", ".fasta", ".fna", ".gz")):
        return gdata.read_fasta(name)
    raise ValueError(
        f"genome must be one of {sorted(GENOMES)} or a FASTA path (.fa/.fasta/.fna[.gz]), got {name!r}"
    )


class _RandomWindows(Dataset):
    def __init__(self, genome, region_of, length: int, n: int, max_n_frac: float, seed: int):
        self.genome, self.region_of, self.length, self.n = genome, region_of, length, n
        self.seed = seed
        self.sampler = gdata.WindowSampler(genome, length + 1, regions=region_of, max_n_frac=max_n_frac)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        window = self.sampler.sample(np.random.default_rng((self.seed, i)))  # reproducible per (epoch, item)
        ids = torch.from_numpy(TOKENIZER.encode_array(window))
        return {"ids": ids[:-1], "target": ids[1:]}


class _TiledWindows(Dataset):
    def __init__(self, genome, region_of, length: int, max_windows: int | None):
        self.items = []
        for name in genome:
            lo, hi = region_of[name]
            for start in range(lo, hi - length, length):
                self.items.append((name, start))
        if max_windows is not None and len(self.items) > max_windows:  # evenly spaced subset
            keep = np.linspace(0, len(self.items) - 1, max_windows).round().astype(int)
            self.items = [self.items[k] for k in keep]
        self.genome, self.length = genome, length

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        name, start = self.items[i]
        ids = torch.from_numpy(TOKENIZER.encode_array(self.genome[name][start : start + self.length + 1]))
        return {"ids": ids[:-1], "target": ids[1:]}


class PretrainDataModule(LightningDataModule):
    """Next-nucleotide windows from a genome (module docstring).

    Args:
        genome: ``"ecoli"`` (shipped E. coli MG1655) or a FASTA path.
        seq_len: final (and evaluation) window length. batch_size: final global batch (sequences).
        tokens_per_epoch: training bases per epoch (windows = tokens_per_epoch // stage length).
        val_frac, test_frac: contiguous held-out fractions at the end of each record.
        max_eval_windows: cap on validation/test windows each (evenly spaced; None: all).
        max_n_frac: reject training windows with more N than this. seed, num_workers: as usual.
    """

    def __init__(
        self,
        genome: str = "ecoli",
        seq_len: int = 1024,
        batch_size: int = 8,
        tokens_per_epoch: int = 1_048_576,
        val_frac: float = 0.05,
        test_frac: float = 0.05,
        max_eval_windows: int | None = 256,
        max_n_frac: float = 0.1,
        seed: int = 0,
        num_workers: int = 0,
    ):
        super().__init__()
        if seq_len < 2 or batch_size < 1 or tokens_per_epoch < seq_len:
            raise ValueError(
                f"PretrainDataModule: need seq_len >= 2, batch_size >= 1, tokens_per_epoch >= "
                f"seq_len; got {seq_len}, {batch_size}, {tokens_per_epoch}"
            )
        if not (0 < val_frac < 0.5 and 0 < test_frac < 0.5):
            raise ValueError(f"val_frac and test_frac must be in (0, 0.5), got {val_frac}, {test_frac}")
        self.save_hyperparameters()
        self.genome_name, self.seq_len, self.batch_size = genome, seq_len, batch_size
        self.stage_len, self.stage_batch = seq_len, batch_size
        self.epoch_seed = 0
        self.genome: dict[str, str] | None = None

    def set_stage(self, seq_len: int, batch_size: int) -> None:
        """Training windows of ``seq_len`` in micro-batches of ``batch_size`` from the next loader on."""
        self.stage_len, self.stage_batch = int(seq_len), int(batch_size)

    def regions(self, split: str) -> dict[str, tuple[int, int]]:
        hp, out = self.hparams, {}
        for name, seq in self.genome.items():
            n = len(seq)
            a = int(n * (1 - hp.val_frac - hp.test_frac))
            b = int(n * (1 - hp.test_frac))
            out[name] = {"train": (0, a), "val": (a, b), "test": (b, n)}[split]
        return out

    def setup(self, stage: str | None = None) -> None:
        if self.genome is None:
            self.genome = load_genome(self.genome_name)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        # Windows are drawn afresh for each epoch; from the trainer's epoch when attached, so that a resumed
        # run draws the windows of the epoch it resumes.
        self.epoch_seed = self.trainer.current_epoch + 1 if self.trainer is not None else self.epoch_seed + 1
        n = max(self.stage_batch, self.hparams.tokens_per_epoch // self.stage_len)
        ds = _RandomWindows(
            self.genome,
            self.regions("train"),
            self.stage_len,
            n,
            self.hparams.max_n_frac,
            seed=self.hparams.seed * 100003 + self.epoch_seed,
        )
        return DataLoader(
            ds,
            batch_size=self.stage_batch,
            shuffle=False,
            num_workers=self.hparams.num_workers,
            drop_last=True,
        )

    def _eval(self, split: str) -> DataLoader:
        self.setup()
        ds = _TiledWindows(self.genome, self.regions(split), self.seq_len, self.hparams.max_eval_windows)
        return DataLoader(ds, batch_size=self.batch_size, num_workers=self.hparams.num_workers)

    def val_dataloader(self) -> DataLoader:
        return self._eval("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval("test")


class _Labelled(Dataset):
    # The reverse-complement coin of item i in an epoch depends on (seed, epoch, i) only, not on the order of
    # fetches, so a resumed run draws the same coins (the harness's sampler calls set_epoch).
    def __init__(self, seqs, labels, rc_augment: bool, seed: int):
        self.seqs, self.labels, self.rc = seqs, labels, rc_augment
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.seqs)

    def __getitem__(self, i: int):
        seq = self.seqs[i]
        if self.rc and np.random.default_rng((self.seed, self.epoch, i)).random() < 0.5:
            seq = reverse_complement(seq)
        return seq, int(self.labels[i])


def _collate(max_len: int | None):
    def collate(items):
        seqs, labels = zip(*items)
        length = max(len(s) for s in seqs) if max_len is None else min(max_len, max(len(s) for s in seqs))
        return {"ids": TOKENIZER.batch_encode(seqs, length=length), "label": torch.tensor(labels)}

    return collate


class ClassificationDataModule(LightningDataModule):
    """Labelled DNA sequences (module docstring).

    Args:
        dataset: ``"oct4_mafk"``, ``"gb:<GenomicBenchmarks name>"`` or ``"nt:<NT task>"``.
        batch_size, num_workers: loaders. max_len: truncate longer sequences (keeping the end).
        rc_augment: random reverse complement of training sequences. seed: split and augmentation seed.
        root: folder of the standard benchmarks (see ``spanmix.datasets.genomics``). download: fetch them.
    """

    def __init__(
        self,
        dataset: str = "oct4_mafk",
        batch_size: int = 64,
        max_len: int | None = None,
        rc_augment: bool = True,
        seed: int = 0,
        root: str | None = None,
        download: bool = False,
        num_workers: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.dataset, self.batch_size = dataset, batch_size
        self.splits: dict[str, tuple[list[str], np.ndarray]] | None = None
        self.n_classes = self._load()

    def _load(self) -> int:
        hp = self.hparams
        if hp.dataset == "oct4_mafk":
            seqs, labels = gdata.load_oct4_mafk()
            idx = gdata.stratified_split(labels, seed=hp.seed)
            self.splits = {k: ([seqs[i] for i in v], labels[v]) for k, v in idx.items()}
        elif hp.dataset.startswith(("gb:", "nt:")):
            kind, name = hp.dataset.split(":", 1)
            if kind == "gb":
                train = gdata.load_genomic_benchmark(name, "train", hp.root, hp.download)[:2]
                test = gdata.load_genomic_benchmark(name, "test", hp.root, hp.download)[:2]
            else:
                train = gdata.load_nt_task(name, "train", hp.root, hp.download)
                test = gdata.load_nt_task(name, "test", hp.root, hp.download)
            idx = gdata.stratified_split(train[1], fractions=(0.9, 0.1, 0.0), seed=hp.seed)
            self.splits = {
                "train": ([train[0][i] for i in idx["train"]], train[1][idx["train"]]),
                "val": ([train[0][i] for i in idx["val"]], train[1][idx["val"]]),
                "test": test,
            }
        else:
            raise ValueError(f"dataset must be 'oct4_mafk', 'gb:<name>' or 'nt:<task>', got {hp.dataset!r}")
        return int(max(int(v[1].max()) for v in self.splits.values() if len(v[1])) + 1)

    def _loader(self, split: str, train: bool = False) -> DataLoader:
        seqs, labels = self.splits[split]
        ds = _Labelled(seqs, labels, self.hparams.rc_augment and train, self.hparams.seed)
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            shuffle=train,
            collate_fn=_collate(self.hparams.max_len),
            num_workers=self.hparams.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")
