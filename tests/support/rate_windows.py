"""Counting calls the way the provider's sliding-window limit counts them."""


def most_in_any_window(times: list[float], window_s: float) -> int:
    """The most calls in any half-open window (t - window, t], as a sliding-window limit counts.

    `times` must be sorted.
    """
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window_s:
            start += 1
        most = max(most, end - start + 1)
    return most
