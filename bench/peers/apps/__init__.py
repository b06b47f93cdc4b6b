"""Each peer's application module, run by that peer's own virtual environment (``bench/peers/envs.py``).

Every module exposes what its system's worker command loads, plus ``enqueue`` and ``schedule`` for
``_cli.main``: the producer's side through the system's public interface, timed inside the producer.
"""
