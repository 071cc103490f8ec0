"""placeholder"""
import pytest

pytestmark = [pytest.mark.slow]


def test_setup(site, capsys):
    with capsys.disabled():
        print(site.timings)
        for s in site.shoppers:
            print(s.number, s.persona, s.behaviour, s.beacons, round(s.seconds, 1), s.log)
