"""Prices, discounts and bulk rates."""

import functools


def apply_discount(price_cents, percent):
    """The price after a percentage discount, rounded down to a cent."""
    if not 0 <= percent <= 100:
        raise ValueError(f"discount out of range: {percent}")
    return price_cents * (100 - percent) // 100


def bulk_price(price_cents, quantity, tiers=((10, 5), (50, 10))):
    """The total for `quantity` units, with the best tier discount that applies."""

    def best_percent(qty):
        percent = 0
        for minimum, tier_percent in tiers:
            if qty >= minimum:
                percent = tier_percent
        return percent

    unit = apply_discount(price_cents, best_percent(quantity))
    return unit * quantity


def total_price(lines):
    """Sums (price_cents, quantity) pairs."""
    total = 0
    for price_cents, quantity in lines:
        total += price_cents * quantity
    return total


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


@logged
def format_price(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


async def fetch_price(catalogue, sku):
    """Looks a price up in an async catalogue mapping; None when missing."""
    price = catalogue.get(sku)
    if price is None:
        return None
    return price
