"""Helpers the tests share: starting real services on free loopback ports."""
