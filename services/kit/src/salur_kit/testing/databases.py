"""Throwaway Postgres databases for tests, created and dropped through an admin URL."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from psycopg import sql


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def scratch_database(admin_url: str, prefix: str = "t") -> Iterator[str]:
    """A new empty database for the block; dropped afterwards (connections are ended)."""
    name = f"{prefix}_{uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(admin_url, name)
    finally:
        _drop(admin_url, name)


def _drop(admin_url: str, name: str) -> None:
    # A background worker (autovacuum) may hold the database for a moment; FORCE cannot
    # end a worker that is not ours, so try again briefly before leaving it behind.
    for attempt in range(5):
        try:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            return
        except psycopg.Error as error:
            if attempt == 4:
                warnings.warn(f"could not drop test database {name}: {error}", stacklevel=2)
            time.sleep(0.5)
