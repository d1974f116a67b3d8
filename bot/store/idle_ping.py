"""Ping a pooled PostgreSQL connection before use only when it has sat idle for a while.

SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a ``SELECT 1`` round trip before each
transaction, about one in five of a worker's round trips (issue 18: nine checkouts per executed
item, each a ping). What the ping guards against is a connection that died while it sat in the
pool: the server restarted, a proxy or a managed database closed it after minutes idle. A
connection checked in a moment ago by a busy process is as good as the ping would say. So the
pool pings only connections idle longer than ``PING_AFTER_IDLE_SECONDS``, through the pool's
documented hook: a ``checkout`` listener that raises ``DisconnectionError`` makes the pool drop
that connection and hand out a fresh one, as ``pool_pre_ping`` does. A connection that dies
within the window fails its statement as a disconnect, which invalidates the pool (SQLAlchemy's
default), so the next checkout connects afresh.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "signoff_idle_since"


def ping_when_idle(engine: AsyncEngine, *, after: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Install the checkout ping (and the bookkeeping it needs) on ``engine``'s pool: a
    connection idle for ``after`` seconds or more is pinged before it is handed out."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    def connected(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()  # new: nothing to ping yet

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError("connection lost while idle in the pool") from error
            raise

    event.listen(sync_engine, "connect", connected)
    event.listen(sync_engine, "checkin", checked_in)
    event.listen(sync_engine, "checkout", checked_out)
