"""Secrets at rest: a Fernet key file in the state directory and helpers to encrypt with it."""
