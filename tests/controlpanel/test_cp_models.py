"""Parsing the Control Panel's documents: both e-mail shapes, odd values, never a crash."""

from __future__ import annotations

import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from certbot_dns_variomedia.controlpanel.mailflow import summarize
from certbot_dns_variomedia.controlpanel.models import (
    Direction,
    Email,
    Encryption,
    HierarchyObject,
    SmtpTls,
    StatisticsEntry,
    Whitelabeling,
    email_key,
    parse_api_time,
)

UTC = datetime.timezone.utc


def test_guide_shape() -> None:
    mail = Email.from_api(
        {
            "source_ip": "94.100.135.100",
            "gateway": "mx-gate70-hz2",
            "comm_partner": "someone@Partner.Example",
            "classification": {"text": "clean"},
            "owner": "me@example.de",
            "encryption": {"text": "EMIG"},
            "date": "2018-07-18T09:14:56Z",
            "subject": "hello",
            "unknown_field": {"nested": [1, 2]},
        }
    )
    assert mail.encryption is Encryption.EMIG
    assert mail.encrypted
    assert mail.partner_domain == "partner.example"
    assert mail.date == datetime.datetime(2018, 7, 18, 9, 14, 56, tzinfo=UTC)
    assert mail.direction is None
    assert mail.classification is not None
    assert mail.classification.text == "clean"


def test_connector_shape_reads_the_leg_of_the_direction() -> None:
    outbound = Email.from_api(
        {
            "direction": 2,
            "crypt_type_in": {"id": 1, "text": "NONE"},
            "crypt_type_out": {"id": 7, "text": "TLS"},
            "smtp_dialog": "250 OK;CIPHER=X;IDENTITY=mx.p;TLS_VER=TLSv1.2;TLS_CSUITE=Y;TLS_WARN=",
        }
    )
    assert outbound.direction is Direction.OUTBOUND
    assert outbound.encryption is Encryption.TLS
    assert outbound.smtp_tls == SmtpTls("TLSv1.2", "X", "Y", "", "mx.p")
    inbound = Email.from_api(
        {"direction": "1", "crypt_type_in": {"id": 1, "text": "NONE"}, "crypt_type_out": None}
    )
    assert inbound.direction is Direction.INBOUND
    assert inbound.encryption is Encryption.NONE
    assert not inbound.encrypted


def test_smtp_dialog_alone_decides_when_nothing_else_does() -> None:
    assert Email.from_api({"smtp_dialog": "x;TLS_VER=TLSv1.3"}).encryption is Encryption.TLS
    assert Email.from_api({"smtp_dialog": "x;TLS_VER=NONE"}).encryption is Encryption.NONE
    assert Email.from_api({}).encryption is Encryption.UNKNOWN
    assert Email.from_api({"encryption": {"text": "quantum"}}).encryption is Encryption.UNKNOWN


def test_keys_prefer_the_api_id_and_otherwise_hash_the_content() -> None:
    assert email_key({"id": 17, "subject": "a"}) == "id:17"
    assert email_key({"subject": "a", "date": "x"}) == email_key({"date": "x", "subject": "a"})
    assert email_key({"subject": "a"}) != email_key({"subject": "b"})


def test_other_documents() -> None:
    (tree,) = [
        HierarchyObject.from_api(
            {"id": 1, "name": "partner", "children": [{"id": 2, "name": "example.de"}, {"x": 1}]}
        )
    ]
    assert tree is not None
    assert [n.name for n in tree.walk()] == ["partner", "example.de"]
    assert HierarchyObject.from_api({"name": "no id"}) is None
    assert StatisticsEntry.from_api({"type": 2, "value": "45", "name": "clean"}).value == 45
    assert Whitelabeling.from_api({"domain": "CP.Brand.Example.", "id": 542}).domain == (
        "cp.brand.example"
    )
    assert parse_api_time("not a time") is None
    assert parse_api_time("2024-01-01T00:00:00") == datetime.datetime(2024, 1, 1, tzinfo=UTC)


def test_summary_counts_and_orders_partners() -> None:
    def mail(partner: str, text: str, direction: int) -> Email:
        data: dict[str, Any] = {
            "comm_partner": f"x@{partner}",
            "encryption": {"text": text},
            "direction": direction,
        }
        return Email.from_api(data)

    mails = [
        mail("b.test", "NONE", 1),
        mail("a.test", "NONE", 2),
        mail("b.test", "NONE", 1),
        mail("a.test", "TLS", 1),
        mail("c.test", "DANE", 2),
        mail("d.test", "", 1),
    ]
    start = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    flow = summarize(mails, [StatisticsEntry(2, "clean", 6)], start, start, top=2)
    assert (flow.total, flow.inbound, flow.outbound) == (6, 4, 2)
    assert flow.unencrypted == 3
    assert flow.unknown_encryption == 1
    assert flow.unencrypted_share == 0.5
    assert flow.partners_without_tls == (("b.test", 2), ("a.test", 1))
    assert dict(flow.by_encryption)[Encryption.DANE] == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.sampled_from(
    [
        *("date", "direction", "encryption", "crypt_type_in", "crypt_type_out"),
        *("smtp_dialog", "comm_partner", "classification", "status", "id", "subject"),
    ]
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_fields, _json, max_size=8))
def test_any_document_parses_without_crashing(data: dict[str, Any]) -> None:
    mail = Email.from_api(data)
    assert isinstance(mail.encryption, Encryption)
    assert mail.key
