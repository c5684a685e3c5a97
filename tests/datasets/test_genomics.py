import gzip

import numpy as np
import pytest
from spanmix.datasets import genomics as g


def write_fasta(path, records, gz=False):
    text = "".join(f">{name} description\n{seq[:7]}\n{seq[7:]}\n" for name, seq in records)
    with gzip.open(path, "wt") if gz else open(path, "w") as f:
        f.write(text)


@pytest.mark.parametrize("gz", [False, True])
def test_read_fasta_plain_and_gz(tmp_path, gz):
    path = tmp_path / ("x.fa.gz" if gz else "x.fa")
    write_fasta(path, [("chr1", "ACGTACGTACGTNN"), ("chr2", "ggccAATT")], gz)
    assert g.read_fasta(path) == {"chr1": "ACGTACGTACGTNN", "chr2": "ggccAATT"}


def test_read_fasta_errors(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text("ACGT\n>x\nAC\n")
    with pytest.raises(ValueError, match="line 1"):
        g.read_fasta(bad)
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(ValueError, match="no FASTA records"):
        g.read_fasta(empty)


def test_bed_and_intervals(tmp_path):
    bed = tmp_path / "x.bed"
    bed.write_text("track name=x\nchr1\t2\t6\tpeak1\t0\t+\nchr1\t0\t4\tpeak2\t0\t-\nchr2\t1\t3\n")
    intervals = g.read_bed(bed)
    assert intervals[0] == ("chr1", 2, 6, "peak1", "+") and intervals[2] == ("chr2", 1, 3, "", "+")
    genome = {"chr1": "AACCGGTT", "chr2": "ACGT"}
    assert g.extract_intervals(genome, intervals) == ["CCGG", "GGTT", "CG"]
    with pytest.raises(ValueError, match="not in the genome"):
        g.extract_intervals(genome, [("chrX", 0, 2)])
    bed.write_text("chr1\t5\t2\n")
    with pytest.raises(ValueError, match="start < end"):
        g.read_bed(bed)


def test_window_sampler_filters_n_and_respects_region():
    genome = {"a": "N" * 500 + "ACGT" * 125, "b": "AC"}
    sampler = g.WindowSampler(genome, 50, max_n_frac=0.1, seed=0)
    for _ in range(50):
        w = sampler.sample()
        assert len(w) == 50 and g.n_fraction(w) <= 0.1
    region = g.WindowSampler({"a": "ACGT" * 100}, 10, regions={"a": (100, 120)}, seed=1)
    seq = "ACGT" * 100
    assert all(seq[100:120].find(region.sample()) >= 0 for _ in range(20))
    with pytest.raises(ValueError, match="no window"):
        g.WindowSampler({"a": "N" * 100}, 10, max_n_frac=0.0).sample()


def test_stratified_split():
    labels = np.array([0] * 100 + [1] * 50)
    parts = g.stratified_split(labels, seed=3)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(150))
    assert (labels[parts["train"]] == 1).sum() == 40 and (labels[parts["test"]] == 1).sum() == 5


def test_shipped_samples():
    genome = g.load_ecoli()
    assert len(genome["K-12-MG1655"]) == 4_639_675
    seqs, labels = g.load_oct4_mafk()
    assert len(seqs) == 7797 and labels.sum() == 3900 and {len(s) for s in seqs} == {200}


def test_genomic_benchmarks_official_layout(tmp_path):
    for split in ("train", "test"):
        for cls, seq in (("negative", "AAAA"), ("positive", "CCCC")):
            d = tmp_path / "human_nontata_promoters" / split / cls
            d.mkdir(parents=True)
            (d / "0.txt").write_text(seq)
            (d / "1.txt").write_text(seq + "G")
    seqs, labels, classes = g.load_genomic_benchmark("human_nontata_promoters", "test", root=tmp_path)
    assert classes == ["negative", "positive"] and labels.tolist() == [0, 0, 1, 1]
    assert seqs == ["AAAA", "AAAAG", "CCCC", "CCCCG"]
    with pytest.raises(g.DatasetNotAvailable, match="download=True"):
        g.load_genomic_benchmark("human_enhancers_cohn", root=tmp_path)


def test_nt_task_official_layout(tmp_path):
    d = tmp_path / "nt_tasks" / "promoter_all"
    d.mkdir(parents=True)
    (d / "train.fna").write_text(">seq1|1\nACGT\n>seq2|0\nGGCC\n")
    seqs, labels = g.load_nt_task("promoter_all", "train", root=tmp_path)
    assert seqs == ["ACGT", "GGCC"] and labels.tolist() == [1, 0]
    with pytest.raises(g.DatasetNotAvailable, match="Offline"):
        g.load_nt_task("H3", "train", root=tmp_path)
    (d / "test.fna").write_text(">seq1\nACGT\n")
    with pytest.raises(ValueError, match="integer label"):
        g.load_nt_task("promoter_all", "test", root=tmp_path)
