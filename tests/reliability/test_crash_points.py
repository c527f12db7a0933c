"""A crash at any step of writing the certificate files, as a property: every file-system
change of `variomedia-dns issue`'s write is made to crash in turn, and after each the files
show one whole set, old or new, never a new key beside an old certificate.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from certbot_dns_variomedia.cli.certfiles import CERT_FILES, write_certificate_files
from certbot_dns_variomedia.issuing.certificate import IssuedCertificate

from .rows import Claim, declare


def numbered(n: int) -> IssuedCertificate:
    return IssuedCertificate(
        names=("example.test",),
        cert_pem=f"CERT-{n}\n".encode(),
        chain_pem=f"CHAIN-{n}\n".encode(),
        fullchain_pem=f"CERT-{n}\nCHAIN-{n}\n".encode(),
        not_after=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
        private_key_pem=f"KEY-{n}\n".encode(),
    )


def shown(out: Path) -> dict[str, bytes]:
    """What a reader of `out` sees under each name."""
    return {name: (out / name).read_bytes() for name in CERT_FILES if (out / name).exists()}


def one_set(files: dict[str, bytes]) -> set[str]:
    """The set number every file shows (more than one: a mixed set)."""
    return {data.decode().split("-")[1].split("\n")[0] for data in files.values()}


class Crash(BaseException):
    """The process dies here (a BaseException, as SIGKILL would not be caught either)."""


class Crasher:
    """Counts file-system changes and crashes at the `at`-th."""

    STEPS = ("replace", "rename", "symlink", "link", "unlink", "mkdir")

    def __init__(self, at: int) -> None:
        self.at = at
        self.count = 0

    def wrap(self, real: Callable[..., object]) -> Callable[..., object]:
        def step(*args: object, **kwargs: object) -> object:
            self.count += 1
            if self.count == self.at:
                raise Crash
            return real(*args, **kwargs)

        return step


@declare(
    Claim(
        "properties",
        "A crash at any file-system step of writing the certificate files (variomedia-dns "
        "issue) leaves the four names showing one whole set, old or new, never a new key "
        "beside an old certificate; also while converting files an older version wrote",
    )
)
@pytest.mark.parametrize("plain_before", [False, True], ids=["sets", "older-plain-files"])
def test_a_crash_at_any_step_never_leaves_a_mixed_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plain_before: bool
) -> None:
    """Renaming the four files one by one once let a crash pair a new key with an old
    certificate. Every file-system change of a write is made to crash in turn."""
    first = numbered(1)
    old = dict(zip(CERT_FILES, (first.private_key_pem, first.cert_pem, first.chain_pem,
                                first.fullchain_pem), strict=True))  # fmt: skip
    at = 0
    done = False
    while not done:
        at += 1
        out = tmp_path / f"out{at}"
        if plain_before:  # as an older version wrote them
            out.mkdir()
            for name, data in old.items():
                (out / name).write_bytes(data or b"")
        else:
            write_certificate_files(first, out)
        crasher = Crasher(at)
        with monkeypatch.context() as patch:
            for name in Crasher.STEPS:
                patch.setattr(os, name, crasher.wrap(getattr(os, name)))
            try:
                write_certificate_files(numbered(2), out)
                done = True
            except Crash:
                pass
        files = shown(out)
        assert sorted(files) == sorted(CERT_FILES), (at, files)
        assert len(one_set(files)) == 1, (at, files)
    assert one_set(shown(out)) == {"2"}  # the write that did not crash switched to the new set
    assert at > 5  # every step of the write was crashed at once
