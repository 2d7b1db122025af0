import tally
from tally import majority, tally_votes


def test_blank_ballots_are_ignored():
    assert tally_votes(["a", "", "b", "a", None]) == {"a": 2, "b": 1}


def test_majority_needs_more_than_half():
    assert majority(["a", "b", "a"]) == "a"
    assert majority(["a", "b"]) is None


def test_the_package_is_imported_from_its_sources():
    # The environment installs a copy; the tests must still see the code being changed.
    assert "site-packages" not in tally.__file__
