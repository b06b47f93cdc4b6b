"""Workers: claim queued runs, execute them, record the outcome; leases keep crashes recoverable."""
