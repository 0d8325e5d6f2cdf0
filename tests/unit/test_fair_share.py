"""Stride scheduling: shares by weight, a new batch served at once, no banking, no starvation."""

from collections import Counter

from jobs.fair_share import Claimant, FairShare

ANY = 1_000_000


def shares(fair: FairShare, claimants: dict[str, Claimant], messages: int) -> Counter[str]:
    return Counter(fair.plan(claimants, messages))


def test_batches_share_the_messages_in_proportion_to_their_weights() -> None:
    got = shares(FairShare(), {"a": Claimant(1, ANY), "b": Claimant(2, ANY)}, 300)

    assert got == {"a": 100, "b": 200}


def test_the_messages_of_two_batches_are_interleaved_not_sent_in_runs() -> None:
    order = FairShare().plan({"a": Claimant(1, ANY), "b": Claimant(1, ANY)}, 6)

    assert order in (["a", "b"] * 3, ["b", "a"] * 3)


def test_a_new_batch_is_served_next_whatever_the_others_were_given() -> None:
    fair = FairShare()
    shares(fair, {"big": Claimant(1, ANY)}, 10_000)

    order = fair.plan({"big": Claimant(1, ANY), "small": Claimant(1, ANY)}, 4)

    assert order[:2].count("small") == 1
    assert Counter(order) == {"big": 2, "small": 2}


def test_a_batch_that_idled_saves_up_no_burst() -> None:
    fair = FairShare()
    shares(fair, {"a": Claimant(1, ANY), "b": Claimant(1, ANY)}, 10)
    shares(fair, {"a": Claimant(1, ANY)}, 1000)  # b had nothing due meanwhile

    got = shares(fair, {"a": Claimant(1, ANY), "b": Claimant(1, ANY)}, 100)

    assert got == {"a": 50, "b": 50}


def test_a_batch_gets_no_more_than_its_room_and_the_others_take_the_rest() -> None:
    got = shares(FairShare(), {"capped": Claimant(5, 3), "open": Claimant(1, ANY)}, 20)

    assert got == {"capped": 3, "open": 17}


def test_no_batch_starves_however_small_its_weight() -> None:
    fair = FairShare()
    claimants = {"heavy": Claimant(1000, ANY), "light": Claimant(1, ANY)}

    got = shares(fair, claimants, 2002)

    assert got["light"] == 2
