"""Manifest in: reading and validating manifests, creating and enqueueing batches, the CLI."""
