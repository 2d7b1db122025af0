from stamps import issue, remaining


def test_a_token_is_valid_until_it_expires(frozen_clock):
    token = issue("t", frozen_clock, lifetime=10)
    frozen_clock.advance(9)
    assert token.is_valid(frozen_clock())
    frozen_clock.advance(1)
    assert not token.is_valid(frozen_clock())


def test_remaining_counts_down_and_stops_at_zero(frozen_clock):
    token = issue("t", frozen_clock, lifetime=5)
    frozen_clock.advance(3)
    assert remaining(token, frozen_clock) == 2
    frozen_clock.advance(10)
    assert remaining(token, frozen_clock) == 0


def test_default_lifetime_is_a_minute(frozen_clock):
    assert issue("t", frozen_clock).expires_at() == frozen_clock() + 60
