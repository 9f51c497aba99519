"""``tfx.orchestration.metadata``: MLMD connection configs, as TFX returns them.

The functions return real ``ml_metadata`` ``ConnectionConfig`` protos (so
``mlmd.MetadataStore(config)`` works as in TFX's examples); ``Pipeline(...,
metadata_connection_config=config)`` turns one into beampipe's metadata URI
(``connection.uri_from_config``). A password in a config stays out of compiled files and
logs like one in a URI. ml_metadata is imported only when a function is called.
"""
from __future__ import annotations

import os
from typing import Any


def _pb() -> Any:
    from ml_metadata.proto import metadata_store_pb2

    return metadata_store_pb2


def sqlite_metadata_connection_config(metadata_db_uri: str) -> Any:
    """A SQLite store at ``metadata_db_uri``; its folder is created, as TFX does."""
    pb = _pb()
    folder = os.path.dirname(os.path.abspath(metadata_db_uri))
    os.makedirs(folder, exist_ok=True)
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = metadata_db_uri
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return config


def mysql_metadata_connection_config(host: str, port: int, database: str, username: str,
                                     password: str) -> Any:
    """A MySQL (or MariaDB) store; TFX's signature."""
    pb = _pb()
    return pb.ConnectionConfig(mysql=pb.MySQLDatabaseConfig(
        host=host, port=int(port), database=database, user=username, password=password))


def postgresql_metadata_connection_config(host: str, port: int, database: str, username: str,
                                          password: str) -> Any:
    """A PostgreSQL store (beampipe's; TFX 1.16 has no helper for it), same arguments as MySQL's."""
    pb = _pb()
    return pb.ConnectionConfig(postgresql=pb.PostgreSQLDatabaseConfig(
        host=host, port=str(int(port)), dbname=database, user=username, password=password))


def __getattr__(name: str) -> Any:
    if name == "ConnectionConfigType":  # TFX's Union alias; built lazily (it needs ml_metadata)
        from typing import Union

        pb = _pb()
        return Union[pb.ConnectionConfig, pb.MetadataStoreClientConfig]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ConnectionConfigType", "mysql_metadata_connection_config", "postgresql_metadata_connection_config",
           "sqlite_metadata_connection_config"]
