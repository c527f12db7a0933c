"""``variomedia-sandbox``: the local sandbox (`sandbox.Sandbox`) as a command.

By default it issues one apex + wildcard certificate with certbot and the plugin and shows it;
``--serve`` keeps the sandbox running for commands of your own (`serve`). Either way its
temporary folder is removed at the end, so that runs do not pile up folders; ``--keep`` keeps
it, ``--out DIR`` keeps the certificate and key, and a folder given with ``--dir`` is the
user's and stays.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from cryptography import x509

from ...cli.certfiles import write_certificate_files
from ...issue import IssuedCertificate
from ..acme.pebble import PebbleError
from .sandbox import DEMO_DOMAINS, Sandbox, certificate_names
from .serve import serve


@contextlib.contextmanager
def sandbox_root(directory: str | None, *, keep: bool) -> Iterator[Path]:
    """`directory` as given (the user's: never removed), else a new temporary folder that is
    removed at the end, whatever happened, unless `keep`."""
    if directory is not None:
        yield Path(directory)
        return
    root = Path(tempfile.mkdtemp(prefix="variomedia-sandbox-"))
    try:
        yield root
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def read_lineage(live: Path) -> IssuedCertificate:
    """certbot's files of one certificate, in the shape `variomedia-dns issue` writes."""
    cert_pem = (live / "cert.pem").read_bytes()
    return IssuedCertificate(
        names=tuple(certificate_names(live / "cert.pem")),
        cert_pem=cert_pem,
        chain_pem=(live / "chain.pem").read_bytes(),
        fullchain_pem=(live / "fullchain.pem").read_bytes(),
        not_after=x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc,
        private_key_pem=(live / "privkey.pem").read_bytes(),
    )


def show_certificate(live: Path, *, out: Path | None, kept: bool) -> None:
    """Where the result is now: in --out, in the kept sandbox, or nowhere (the sandbox is
    removed), so then the certificate itself is printed."""
    certificate = read_lineage(live)
    if out is not None:
        written = write_certificate_files(certificate, out)
        print(f"Certificate: {written['fullchain.pem']}")
        print(f"Private key: {written['privkey.pem']}")
    elif kept:
        print(f"Certificate: {live / 'fullchain.pem'}")
        print(f"Private key: {live / 'privkey.pem'}")
    else:
        print("Certificate (removed with the sandbox; --out DIR keeps it and its key):")
        print(certificate.cert_pem.decode().rstrip())
    print(f"Names:       {', '.join(certificate.names)}")
    print(f"Valid until: {certificate.not_after:%Y-%m-%d %H:%M} UTC")


def out_problem(out: Path) -> str | None:
    """Why the certificate could not be written to `out`, found before a run that would be
    wasted on it."""
    existing = next(p for p in (out, *out.parents) if p.exists())
    where = f"--out {out}" if existing == out else f"--out {out}: {existing}"
    if not existing.is_dir():
        return f"{where} is a file; give a directory."
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{where} is not writable for you; give a directory you can write to."
    return None


def issue_once(box: Sandbox, domains: Sequence[str], *, out: Path | None, kept: bool) -> int:
    """One certbot run with the plugin, then its certificate shown (see `show_certificate`)."""
    assert box.pebble is not None
    print(f"Variomedia simulator: {box.sim.url} (name servers {box.nameservers_option})")
    print(f"Pebble ACME server:   {box.pebble.directory_url}")
    print(f"Running: certbot certonly --authenticator dns-variomedia -d {' -d '.join(domains)}")
    result = box.certonly(domains, cert_name="sandbox")
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        log = f"its log: {box.logs_dir}" if kept else "to read its log, run again with --keep"
        print(f"certbot failed (exit status {result.returncode}); {log}")
        return 1
    left = [r for r in box.sim.records() if r.name.startswith("_acme-challenge") and not r.deleted]
    print()
    try:
        show_certificate(box.live("sandbox"), out=out, kept=kept)
    except OSError as e:  # --out: nothing was written (all files or none)
        print(
            f"Cannot write the certificate to --out {out} ({e.strerror}); give a directory "
            "you can write to.",
            file=sys.stderr,
        )
        return 1
    print(f"API requests: {box.sim.counters.total}; challenge records left: {len(left)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Issue an apex + wildcard certificate on the sandbox and show it, or `serve`."""
    parser = argparse.ArgumentParser(
        prog="variomedia-sandbox",
        description="Issue a wildcard certificate with certbot --authenticator dns-variomedia "
        "against Pebble and the Variomedia simulator, all on 127.0.0.1; or, with --serve, keep "
        "them running and print commands to try yourself.",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep Pebble and the simulator running until Ctrl-C and print ready-to-paste "
        "certbot and variomedia-dns commands",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the sandbox's temporary folder (certbot's files and logs) at the end",
    )
    parser.add_argument(
        "--dir", help="keep the sandbox in this folder (default: a temporary one, removed)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="copy the certificate and its key (0600) here, as variomedia-dns issue writes them",
    )
    parser.add_argument(
        "-d",
        "--domain",
        action="append",
        help=f"certificate names (default: {', '.join(DEMO_DOMAINS)})",
    )
    args = parser.parse_args(argv)
    out = Path(args.out).expanduser() if args.out else None
    if args.serve and (out is not None or args.domain):
        parser.error("--serve prints commands to run; give -d and --out to those instead")
    if out is not None and (problem := out_problem(out)):
        parser.error(problem)
    kept = args.keep or args.dir is not None
    with sandbox_root(args.dir, keep=args.keep) as root:
        try:
            if args.serve:
                status = serve(Sandbox(root), kept=kept)
            else:
                with Sandbox(root) as box:
                    status = issue_once(box, args.domain or DEMO_DOMAINS, out=out, kept=kept)
        except PebbleError as e:  # e.g. no Pebble installed: its message says what to do
            print(f"variomedia-sandbox: {e}", file=sys.stderr)
            status = 1
    print(f"The sandbox is kept in {root}" if kept else f"Removed the sandbox's folder {root}")
    return status


if __name__ == "__main__":
    sys.exit(main())
