"""Persistence: the only package that speaks SQL. SQLite and PostgreSQL through SQLAlchemy Core.

Services open a transaction with ``Database.write()`` / ``Database.read()`` and pass the connection
(typed ``Tx``) to the functions here, so that one transaction can span several of them.
"""

from sqlalchemy.ext.asyncio import AsyncConnection as Tx

__all__ = ["Tx"]
