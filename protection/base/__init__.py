"""The ground floor: domain errors, crypto, client IP arithmetic, durations.
Imports nothing of protection but ``protection.conf``."""
