"""The notifier: a loop that delivers the outbox's notices (any process may run it)."""
