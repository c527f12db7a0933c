"""Where files live by default: state file, ACME account keys and pacing ledger, per user."""

from __future__ import annotations

from pathlib import Path

from certbot_dns_variomedia.paths import (
    default_account_key,
    default_cache_dir,
    default_state_file,
    pacing_ledger_file,
)


def test_state_file_default_for_root_users_and_the_override() -> None:
    home = {"HOME": "/home/ann"}
    assert default_state_file({}, euid=0) == Path("/var/lib/variomedia-dns/state.json")
    assert default_state_file(home, euid=1000) == Path(
        "/home/ann/.local/state/variomedia-dns/state.json"
    )
    xdg = {**home, "XDG_STATE_HOME": "/srv/state"}
    assert default_state_file(xdg, euid=1000) == Path("/srv/state/variomedia-dns/state.json")
    # The XDG spec: a relative value is invalid and ignored.
    relative = {**home, "XDG_STATE_HOME": "state"}
    assert default_state_file(relative, euid=1000).is_relative_to("/home/ann/.local/state")
    explicit = {"VARIOMEDIA_DNS_STATE_FILE": "/tmp/s.json"}
    assert default_state_file(explicit, euid=0) == Path("/tmp/s.json")


def test_one_account_key_per_ca() -> None:
    env = {"HOME": "/home/ann"}
    production = default_account_key("https://acme-v02.api.letsencrypt.org/directory", env, 1000)
    staging = default_account_key("https://acme-staging-v02.api.letsencrypt.org/directory", env, 1)
    assert production == Path(
        "/home/ann/.config/variomedia-dns/accounts/"
        "acme-v02.api.letsencrypt.org_directory/account-key.pem"
    )
    assert staging != production
    explicit = {"VARIOMEDIA_DNS_ACCOUNT_DIR": "/srv/acme"}
    assert default_account_key("https://127.0.0.1:14000/dir", explicit, 0) == Path(
        "/srv/acme/127.0.0.1_14000_dir/account-key.pem"
    )
    assert default_account_key("https://127.0.0.1:14000/dir", {}, 0).parts[:4] == (
        "/",
        "etc",
        "variomedia-dns",
        "accounts",
    )


def test_root_keeps_its_pacing_ledger_in_a_root_owned_place_whatever_home_says() -> None:
    """sudo -E keeps a user's HOME and XDG_CACHE_HOME: root must not follow them."""
    user_env = {"HOME": "/home/ann", "XDG_CACHE_HOME": "/home/ann/.cache"}
    assert default_cache_dir(user_env, euid=0) == Path("/var/cache/certbot-dns-variomedia")
    assert pacing_ledger_file("api.variomedia.de:443", user_env, euid=0) == Path(
        "/var/cache/certbot-dns-variomedia/pacing-api.variomedia.de_443.json"
    )
    assert pacing_ledger_file("api.variomedia.de:443", user_env, euid=1000) == Path(
        "/home/ann/.cache/certbot-dns-variomedia/pacing-api.variomedia.de_443.json"
    )


def test_a_relative_cache_directory_is_ignored() -> None:
    """The XDG spec: a relative XDG_CACHE_HOME is invalid; ours must be absolute too."""
    env = {"HOME": "/home/ann", "XDG_CACHE_HOME": "cache"}
    assert default_cache_dir(env, euid=1000) == Path("/home/ann/.cache/certbot-dns-variomedia")
    relative = {**env, "VARIOMEDIA_DNS_CACHE_DIR": "here"}
    assert default_cache_dir(relative, euid=1000) == Path("/home/ann/.cache/certbot-dns-variomedia")
    explicit = {**env, "VARIOMEDIA_DNS_CACHE_DIR": "/srv/cache"}
    assert default_cache_dir(explicit, euid=0) == Path("/srv/cache")
