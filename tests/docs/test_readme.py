"""The README is true: its commands run, its tables match the code, its links lead somewhere.

`test_readme_commands_run_top_to_bottom` follows the README the way a reader does, on
loopback: every command of every ``sh`` block, in order, on the machine of its install path
(`machines`), through the rule that says how (`readme_rules`). A command without a rule fails
the test, and so does a rule no command uses; what cannot run here is listed in the rules with
the reason. The other tests hold the prose to the code: the options table, the supported
certbot releases, commands quoted inline, links and anchors.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from certbot_dns_variomedia.plugin import Authenticator
from certbot_dns_variomedia.testing.acme.acme2certifier import Acme2Certifier
from certbot_dns_variomedia.testing.acme.pebble import Pebble
from certbot_dns_variomedia.testing.variomedia.port53 import Port53Unavailable, start_on_port_53
from certbot_dns_variomedia.testing.variomedia.simulator import VariomediaSimulator

from . import dist
from .machines import README_SIM, World
from .markdown import Block, Command, Document, commands, github_anchor
from .readme_rules import MACHINE_OF_SECTION, RULES, Runner, installed_files

REPO = dist.REPO
README = Document.read(REPO / "README.md")
KNOWN_LANGUAGES = {"sh", "ini", "text"}
# Programs whose name starts inline code that is a command (and so must be one the blocks run).
COMMAND_WORDS = {
    "apt",
    "certbot",
    "chmod",
    "cp-audit",
    "curl",
    "dig",
    "docker",
    "install",
    "ln",
    "mkdir",
    "pip",
    "python",
    "python3",
    "snap",
    "systemctl",
    "variomedia-dns",
    "variomedia-sandbox",
}
ZONE_LINE = re.compile(
    r"^(?P<name>\S+)\.\s+(?P<ttl>\d+)\s+IN\s+CNAME\s+(?P<target>\S+)\.$", re.MULTILINE
)


def sh_commands() -> list[Command]:
    return [c for block in README.blocks if block.lang == "sh" for c in commands(block)]


def all_command_argvs() -> list[tuple[str, ...]]:
    """Every command of the blocks, and the hook commands nested in certbot's options."""
    found: list[tuple[str, ...]] = []
    for command in sh_commands():
        found.append(command.argv)
        found += [tuple(shlex.split(arg)) for arg in command.argv if " " in arg]
    return found


# -- structure ----------------------------------------------------------------------------------


def test_first_screen_keeps_the_two_setup_commands() -> None:
    first = README.blocks[0]
    assert first.section == "Try it (two commands, fresh Debian/Ubuntu machine)"
    assert first.line <= 15
    assert [c.text for c in commands(first)] == ["./scripts/sandbox-demo", "./scripts/run-tests"]


def test_every_code_block_is_of_a_kind_the_test_reads() -> None:
    unknown = [(b.line, b.lang) for b in README.blocks if b.lang not in KNOWN_LANGUAGES]
    assert not unknown, f"blocks the README test cannot read: {unknown} (use sh, ini or text)"


def test_every_command_has_exactly_one_rule_and_every_rule_a_command() -> None:
    used: set[str] = set()
    for command in sh_commands():
        matching = [rule.name for rule in RULES if rule.matches(command.argv)]
        assert len(matching) == 1, f"{command}: matched by {matching or 'no rule'}"
        used.add(matching[0])
    assert used == {rule.name for rule in RULES}, {rule.name for rule in RULES} - used
    for rule in RULES:
        assert (rule.kind == "run") == (not rule.why), f"{rule.name}: say why it cannot run"


def test_sections_with_a_machine_of_their_own_exist() -> None:
    titles = README.titles()
    assert set(MACHINE_OF_SECTION) <= set(titles), set(MACHINE_OF_SECTION) - set(titles)


def test_inline_commands_are_commands_the_blocks_run() -> None:
    """A command quoted in the prose is the start of one the test runs (the demo's certbot
    command is compared with what the demo prints, in the run test)."""
    runs = all_command_argvs()
    stray = []
    for code in README.inline_code():
        try:
            words = shlex.split(code)
        except ValueError:
            continue
        if len(words) < 2 or Path(words[0]).name not in COMMAND_WORDS:
            continue
        if words[:2] == ["certbot", "certonly"] and "example.test" in words:
            continue  # what ./scripts/sandbox-demo runs: checked against its output
        if not any(tuple(words) == argv[: len(words)] for argv in runs):
            stray.append(code)
    assert not stray, f"inline commands no block runs: {stray}"


def test_links_and_anchors_lead_somewhere() -> None:
    anchors = {github_anchor(title) for title in README.titles()}
    broken = []
    for target in README.links():
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        if path and not (REPO / path).exists():
            broken.append(target)
        if anchor and not path and anchor not in anchors:
            broken.append(target)
    assert not broken, broken


# -- claims about the code ----------------------------------------------------------------------


def plugin_options() -> dict[str, object]:
    """The plugin's options and defaults, as certbot registers them."""
    found: dict[str, object] = {}

    def add(name: str, **kwargs: object) -> None:
        found[f"--dns-variomedia-{name}"] = kwargs.get("default")

    Authenticator.add_parser_arguments(add)
    return found


def test_options_table_is_the_plugins_options_and_defaults() -> None:
    table = {row[0].strip("`"): row[1].strip("`") for row in README.table("Options")}
    registered = plugin_options()
    assert set(table) == set(registered)
    shown_for_none = {
        "--dns-variomedia-credentials": "(required)",
        "--dns-variomedia-nameservers": "discovered",
    }
    for option, default in registered.items():
        expected = shown_for_none[option] if default is None else str(default)
        assert table[option] == expected, (option, table[option], default)


def test_supported_certbot_releases_are_the_ones_ci_runs() -> None:
    compat = (REPO / "scripts/compat-tests").read_text()
    pinned = re.findall(r"^pins_\w+=\(certbot==([\d.]+)", compat, re.MULTILINE)
    assert sorted(pinned) == ["1.21.0", "2.1.0"]
    install = "\n".join(README.section_lines("Install"))
    assert "certbot 1.21.0 (Ubuntu 22.04), 2.1.0 (Debian 12)" in install
    assert "under 1.21.0 and 2.1.0" in install


def test_the_pythons_the_readme_names_are_the_ones_ci_runs() -> None:
    script = (REPO / "scripts/python-tests").read_text()
    (others,) = re.findall(r'^versions=\("\$\{@:-([\d. ]+)\}"\)', script, re.MULTILINE)
    install = " ".join(README.section_lines("Install"))
    assert "runs the whole suite under Python 3.11" in install
    span = re.search(r"end-to-end tests under Python (.+?)\(`scripts/python-tests`\)", install)
    assert span is not None, install
    assert re.findall(r"\b3\.\d+\b", span.group(1)) == others.split()
    classifiers = re.findall(r"Python :: (3\.\d+)$", (REPO / "setup.cfg").read_text(), re.M)
    assert sorted(classifiers) == sorted(["3.11", *others.split()])


def test_the_credentials_block_is_the_example_file() -> None:
    block = next(b for b in README.blocks if b.lang == "ini")
    example = (REPO / "examples/variomedia.ini").read_text()
    for line in block.text.splitlines()[1:]:
        assert line in example.splitlines(), line


# -- the run ----------------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path, built: dist.Dist, layer: Path) -> Iterator[World]:
    """The simulator's name servers on port 53 where this machine allows it: the dns-persist-01
    CA (acme2certifier) asks nowhere else. As root that must work; elsewhere the dns-persist-01
    commands say why they cannot run."""
    with contextlib.ExitStack() as stack:
        unavailable = ""
        try:
            sim = start_on_port_53(README_SIM)
            stack.callback(sim.stop)
        except Port53Unavailable as e:
            if os.geteuid() == 0:
                pytest.fail(f"running as root, yet: {e}")
            unavailable = str(e)
            sim = stack.enter_context(VariomediaSimulator(README_SIM))
        slowest = sim.dns_servers[-1]  # README_SIM lists its name servers slowest last
        pebble = stack.enter_context(
            Pebble(tmp_path / "pebble", dns_server=f"{slowest.address}:{slowest.port}")
        )
        persist_ca = None
        if not unavailable:
            persist_ca = stack.enter_context(
                Acme2Certifier(tmp_path / "acme2certifier", dns_servers=[slowest.address])
            )
        yield World(tmp_path, REPO, built, layer, sim, pebble, persist_ca, unavailable)


def apply_credentials(world: World, block: Block) -> str:
    """The Credentials step: the file the block shows, with the simulator's token and URL."""
    lines = block.text.splitlines()
    path = lines[0].removeprefix("# ")
    keys = [line.split("=")[0].strip() for line in lines[1:] if "=" in line]
    assert keys == ["dns_variomedia_token"], keys
    target = world.machine("main").host(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        f"{lines[0]}\ndns_variomedia_token = {world.sim.token}\n"
        f"dns_variomedia_api_url = {world.sim.url}\n"
    )
    target.chmod(0o644)  # as an editor creates it; the README's chmod follows
    return f"wrote {path} (the simulator's token and URL)"


def apply_text(world: World, block: Block) -> str:
    """A zone-file line to create at another DNS provider, or a monitoring definition."""
    if match := ZONE_LINE.search(block.text):
        name, target = match["name"], match["target"]
        zone = next(d.ace for d in world.sim.domains() if name.endswith("." + d.ace))
        world.sim.add_record(zone, name.removesuffix("." + zone), "CNAME", target)
        return f"CNAME {name} -> {target} at the 'other provider' (a simulator zone)"
    if "define command" in block.text:
        line = next(x for x in block.text.splitlines() if "command_line" in x)
        program, *args = shlex.split(line.split(None, 1)[1])
        installs = [c.argv for c in sh_commands() if c.argv[0] == "install"]
        assert any(Path(program) in installed_files(argv) for argv in installs), program
        checks = [c.argv for c in sh_commands() if c.argv[0] == program]
        assert checks, program
        assert args == [a.replace("example.de", "$ARG1$") for a in checks[0][1:]], args
        return "the check command is the installed one, with the README's options"
    raise AssertionError(f"README.md:{block.line}: a text block the test does not know")


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_readme_commands_run_top_to_bottom(world: World) -> None:
    runner = Runner(world)
    notes: list[str] = []
    try:
        for block in README.blocks:
            if block.lang == "sh":
                for command in commands(block):
                    outcome = runner.execute(command)
                    notes.append(f"{outcome.machine:8} {outcome.rule.kind:8} {command.text}")
            elif block.lang == "ini":
                notes.append(f"main     write    {apply_credentials(world, block)}")
            else:
                notes.append(f"main     seed     {apply_text(world, block)}")
    finally:
        runner.close()
        print("\n".join(notes))
    assert len(runner.outcomes) == len(sh_commands())
    # The sentence under "Try it" names the command the demo runs.
    sentence = next(c for c in README.inline_code() if c.startswith("certbot certonly"))
    assert world.demo_command == shlex.split(sentence)
    assert world.sim.counters.too_many_requests == 0
