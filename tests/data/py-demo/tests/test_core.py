import pytest

from inventory.core import Inventory, Item, OutOfStock


@pytest.fixture
def stock():
    inventory = Inventory()
    inventory.add("ab-1", "bolt", 25, 10)
    inventory.add("cd-2", "nut", 10, 2)
    return inventory


def test_add_normalises_sku_and_accumulates(stock):
    stock.add(" ab-1 ", "bolt", 25, 5)
    assert stock.find("AB-1").quantity == 15


def test_add_rejects_non_positive_quantity(stock):
    with pytest.raises(ValueError):
        stock.add("x", "thing", 1, 0)


def test_take_reduces_quantity(stock):
    assert stock.take("ab-1", 4) == 6


def test_take_exact_quantity_is_allowed(stock):
    assert stock.take("cd-2", 2) == 0


def test_take_more_than_available_raises(stock):
    with pytest.raises(OutOfStock):
        stock.take("cd-2", 3)
    assert stock.find("cd-2").quantity == 2


def test_take_unknown_sku_raises_key_error(stock):
    with pytest.raises(KeyError):
        stock.take("zz-9")


def test_total_value(stock):
    assert stock.total_value() == 25 * 10 + 10 * 2


def test_low_stock_is_sorted_and_inclusive(stock):
    stock.add("aa-0", "washer", 1, 1)
    assert stock.low_stock() == ["AA-0", "CD-2"]


class TestHistory:
    def test_history_records_every_change(self, stock):
        stock.take("ab-1")
        assert stock.history()[-1] == ("take", "AB-1", 1)

    def test_history_filters_by_sku(self, stock):
        assert stock.history("cd-2") == [("add", "CD-2", 2)]


def test_item_value():
    assert Item("A", "a", 3, 4).value_cents == 12
