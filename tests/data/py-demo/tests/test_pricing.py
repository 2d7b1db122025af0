import asyncio

import pytest

from inventory.pricing import apply_discount, bulk_price, fetch_price, format_price, total_price


@pytest.mark.parametrize(
    "price,percent,expected",
    [(1000, 0, 1000), (1000, 10, 900), (999, 50, 499), (1000, 100, 0)],
)
def test_apply_discount(price, percent, expected):
    assert apply_discount(price, percent) == expected


def test_apply_discount_rejects_out_of_range():
    with pytest.raises(ValueError):
        apply_discount(100, 101)
    with pytest.raises(ValueError):
        apply_discount(100, -1)


def test_bulk_price_tiers():
    assert bulk_price(100, 5) == 500
    assert bulk_price(100, 10) == 950
    assert bulk_price(100, 50) == 4500


def test_total_price():
    assert total_price([(100, 2), (50, 3)]) == 350
    assert total_price([]) == 0


def test_format_price():
    assert format_price(1234) == "12.34"
    assert format_price(-5) == "-0.05"


def test_fetch_price():
    catalogue = {"A": 10}
    assert asyncio.run(fetch_price(catalogue, "A")) == 10
    assert asyncio.run(fetch_price(catalogue, "B")) is None
