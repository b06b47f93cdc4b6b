"""Events: how a change made in one place reaches the others.

Transport, not storage: the database stays the source of truth, and every event may be lost (a
``resync`` then tells subscribers to re-read it). ``bus.py`` delivers within a process; ``pg.py``
carries events between processes through PostgreSQL LISTEN/NOTIFY. Below services, beside store/.
"""
