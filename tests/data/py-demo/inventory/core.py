"""Items and the inventory that holds them."""

from dataclasses import dataclass


class OutOfStock(Exception):
    """Raised when taking more of an item than there is."""


@dataclass
class Item:
    sku: str
    name: str
    price_cents: int
    quantity: int = 0

    @property
    def value_cents(self):
        return self.price_cents * self.quantity

    @staticmethod
    def normalise_sku(sku):
        return sku.strip().upper()


class Inventory:
    def __init__(self):
        self._items = {}
        self._log = []

    def add(self, sku, name, price_cents, quantity=1):
        sku = Item.normalise_sku(sku)
        if quantity <= 0:
            raise ValueError(f"quantity must be positive, got {quantity}")
        item = self._items.get(sku)
        if item is None:
            item = Item(sku, name, price_cents, 0)
            self._items[sku] = item
        item.quantity += quantity
        self._log.append(("add", sku, quantity))
        return item

    def take(self, sku, quantity=1):
        sku = Item.normalise_sku(sku)
        item = self._items.get(sku)
        if item is None:
            raise KeyError(sku)
        if quantity > item.quantity:
            raise OutOfStock(f"{sku}: wanted {quantity}, have {item.quantity}")
        item.quantity -= quantity
        self._log.append(("take", sku, quantity))
        return item.quantity

    def find(self, sku):
        return self._items.get(Item.normalise_sku(sku))

    def total_value(self):
        return sum(item.value_cents for item in self._items.values())

    def low_stock(self, threshold=2):
        """SKUs with at most `threshold` units left, sorted."""
        return sorted(sku for sku, item in self._items.items() if item.quantity <= threshold)

    def history(self, sku=None):
        if sku is None:
            return list(self._log)
        wanted = Item.normalise_sku(sku)
        return [entry for entry in self._log if entry[1] == wanted]
