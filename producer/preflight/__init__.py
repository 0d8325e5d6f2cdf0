"""Checks made before paying for images: each says in one line what is right or what to do.

`seedream-batch doctor` runs them all (producer.doctor); `run` and `submit` run the cheap ones
(`preflight_problems`) before they record a batch.
"""
