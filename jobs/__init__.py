"""What the producer, the worker and the emulator share: the job spec, its states, error classes
and the results table. One place, imported by all three, never copied."""
