"""A small stock-keeping package: the Python fixture repository of sera-rs."""

from inventory.core import Inventory, Item, OutOfStock
from inventory.pricing import apply_discount, bulk_price, total_price

__all__ = ["Inventory", "Item", "OutOfStock", "apply_discount", "bulk_price", "total_price"]
