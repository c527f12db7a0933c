"""``python -m certbot_dns_variomedia.testing.variomedia`` tells a person how to use it: a
credentials file and the ``--nameservers`` value, in lines that work as printed. Programs
still get the JSON line first (see test_simulator.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ..served import Served

MODULE = "certbot_dns_variomedia.testing.variomedia"
INI_HEADING = "Save this as variomedia.ini, then chmod 600 variomedia.ini:"


@pytest.mark.e2e
def test_the_printed_credentials_and_doctor_command_work(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "VARIOMEDIA_DNS_CACHE_DIR": str(tmp_path / "cache"),
        "VARIOMEDIA_DNS_STATE_FILE": str(tmp_path / "state.json"),
    }
    served = Served.start(
        [sys.executable, "-m", MODULE, "--domain", "a.test"],
        ready="Ctrl-C stops the simulator.",
        env=env,
    )
    try:
        summary = json.loads(served.lines[0])
        start = served.lines.index(INI_HEADING) + 1
        ini = served.lines[start : served.lines.index("", start)]
        credentials = tmp_path / "variomedia.ini"
        credentials.write_text("".join(line.strip() + "\n" for line in ini))
        credentials.chmod(0o600)
        doctor = served.command("variomedia-dns", "doctor", "a.test")
        certbot = served.command("certbot", "certonly", "--authenticator", "dns-variomedia")
        program = Path(sys.executable).parent / "variomedia-dns"
        result = served.run([str(program), *doctor[1:]], cwd=tmp_path)
    finally:
        status = served.stop()

    servers = ",".join(summary["nameservers"])
    assert doctor[doctor.index("--nameservers") + 1] == servers
    assert certbot[certbot.index("--dns-variomedia-nameservers") + 1] == servers
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"ok    credentials   {credentials} (mode 0600)" in output, output
    assert "ok    token         accepted" in output, output
    assert "FAIL" not in output, output
    assert f"all 2 (--nameservers) answer for a.test: {servers.replace(',', ', ')}" in output
    assert status == 0, served.output
