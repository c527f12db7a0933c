"""The command's table output."""

from __future__ import annotations

from certbot_dns_variomedia.cli.output import shorten, table


def test_table_aligns_columns_and_does_not_pad_the_last() -> None:
    text = table(["ID", "NAME", "DATA"], [["1", "example.test", "x"], ["22", "a", "yy"]])
    assert text.splitlines() == [
        "ID  NAME          DATA",
        "1   example.test  x",
        "22  a             yy",
    ]
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abc", 4) == "abc"
