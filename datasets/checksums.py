"""Trust-on-first-use SHA-256 records for downloaded dataset files, kept beside them in the cache.

Some standard datasets publish no checksum and are served over plain http (BNCI Horizon's ``.mat`` files):
a download cannot be verified against anything. What can be done is to notice when a file *changes*: the
first time a file is used, :func:`check` records its SHA-256 in ``SHA256SUMS`` in the file's folder (the
``sha256sum`` format, so ``sha256sum -c SHA256SUMS`` checks it too) and warns that the file is unverified;
every later use compares the file with that record and raises :class:`ChecksumMismatch` if it differs. A
``pinned`` sum (a published one), when known, is checked instead and never trusted on first use.

    from spanmix.datasets import checksums
    checksums.check(path, source="http://...")      # record on first use, verify afterwards
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

__all__ = ["RECORD_NAME", "ChecksumMismatch", "UnverifiedFile", "check", "read_record", "sha256"]

#: The record file in each download folder: ``<sha256>  <file name>`` per line.
RECORD_NAME = "SHA256SUMS"


class ChecksumMismatch(ValueError):
    """A cached file's SHA-256 differs from its pinned or recorded sum: corrupt, truncated or replaced."""


class UnverifiedFile(UserWarning):
    """A file was used for the first time and no published sum exists: its sum is recorded, not verified."""


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_record(folder: str | os.PathLike) -> dict[str, str]:
    """``{file name: sha256}`` recorded in ``folder/SHA256SUMS`` (empty if there is none)."""
    record = Path(folder) / RECORD_NAME
    if not record.is_file():
        return {}
    sums = {}
    for line in record.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            sums[name.lstrip("*")] = digest.lower()
    return sums


def _write_record(folder: Path, sums: dict[str, str]) -> None:
    tmp = folder / f".{RECORD_NAME}.{os.getpid()}.tmp"
    tmp.write_text("".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())))
    os.replace(tmp, folder / RECORD_NAME)  # atomic: a reader never sees half a record


def check(path: str | os.PathLike, *, source: str, pinned: str | None = None) -> str:
    """Verify the file at ``path`` against ``pinned`` or its recorded sum; record it on first use.

    Args:
        path: the cached file.
        source: where it came from (a URL), named in the messages.
        pinned: a published SHA-256, if one exists (then nothing is trusted on first use).

    Returns:
        ``"pinned"``, ``"recorded"`` (matches the sum recorded at first use) or ``"first use"`` (just recorded,
        with an :class:`UnverifiedFile` warning).

    Raises:
        ChecksumMismatch: the file differs from ``pinned`` or from its record.
    """
    path = Path(path)
    actual = sha256(path)
    fix = (f"delete it (and its line in {path.parent / RECORD_NAME}) and download it again from {source}")
    if pinned is not None:
        if actual != pinned.lower():
            raise ChecksumMismatch(f"{path.name} has sha256 {actual}, but its published sum is {pinned}: the file "
                                   f"is corrupt, truncated or not the original; {fix}")
        return "pinned"
    sums = read_record(path.parent)
    recorded = sums.get(path.name)
    if recorded is None:
        sums[path.name] = actual
        _write_record(path.parent, sums)
        warnings.warn(f"{path.name} from {source} is UNVERIFIED: the source publishes no checksum. Its sha256 "
                      f"{actual} is now recorded in {path.parent / RECORD_NAME} and checked on every later use "
                      "(trust on first use).", UnverifiedFile, stacklevel=2)
        return "first use"
    if actual != recorded:
        raise ChecksumMismatch(f"{path.name} changed since its first use: sha256 {actual}, recorded {recorded} in "
                               f"{path.parent / RECORD_NAME}. The file is corrupt, truncated or was replaced; {fix}")
    return "recorded"
