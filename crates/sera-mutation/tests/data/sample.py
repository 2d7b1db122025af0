"""Stock keeping."""


class Stock:
    def __init__(self):
        self.items = {}
        self.log = []

    def take(self, name, count=1):
        """Takes `count` of `name`."""
        if count == 0:
            raise ValueError("nothing to take")
        have = self.items.get(name)
        if have is None:
            return None
        self.items[name] = have - count
        self.log.append(name.strip().lower())
        return have - count

    def label(self, name) -> str:
        total = 0
        for key, value in self.items.items():
            if key.startswith(name) and not key == "":
                total += value
        if total > 1:
            return f"{total} of {name}"
        else:
            return "one"


def window(values, start, stop):
    total = 0
    for i in range(start, stop):
        total += values[i] * 2
    total ^= stop & 1
    try:
        return total // len(values)
    except ZeroDivisionError:
        return 0


def test_window():
    assert window([1, 2], 0, 2) == 3
