"""The beacon's fields are exactly what they claim: a trailing newline (which a "$" anchor lets
through) makes a request malformed, even when the signature covers it."""
from __future__ import annotations

import time

import pytest

from shopcrm.beacon.signing import BeaconRefused, sign, verify
from tests.support.beacon import SECRET, query, stored

GOOD = {"c": "107", "p": "1005", "n": "0123456789abcdef"}


def signed(**fields) -> dict:
    args = {**GOOD, "t": str(int(time.time())), **fields}
    return {**args, "s": sign(SECRET, args["c"], args["p"], args["t"], args["n"])}


def test_a_well_formed_request_verifies():
    assert verify(signed(), SECRET, window=300).customer_id == 107


@pytest.mark.parametrize("field", ["c", "p", "t", "n"])
@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\x00"])
def test_a_signed_field_with_a_trailing_character_is_malformed(field, suffix):
    args = signed(**{field: (GOOD.get(field) or str(int(time.time()))) + suffix})
    with pytest.raises(BeaconRefused) as refused:
        verify(args, SECRET, window=300)
    assert refused.value.status == 400 and "malformed" in refused.value.reason


def test_a_signature_with_a_trailing_newline_is_malformed():
    args = signed()
    args["s"] += "\n"
    with pytest.raises(BeaconRefused) as refused:
        verify(args, SECRET, window=300)
    assert refused.value.status == 400


def test_the_endpoint_refuses_and_stores_nothing(beacon_app):  # noqa: F811
    client = beacon_app.test_client()
    args = query(c="123\n")
    assert client.get("/crm/beacon", query_string=args).status_code == 400
    assert stored(beacon_app) == []
