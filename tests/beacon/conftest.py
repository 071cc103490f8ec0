"""Fixtures of the beacon tests."""
import pytest

from tests.support.beacon import SECRET


@pytest.fixture
def beacon_app(make_app):
    return make_app(SHOPCRM_BEACON_SECRET=SECRET)
