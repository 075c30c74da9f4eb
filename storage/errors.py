"""Errors raised by the storage layer.

    StorageError              anything the corpus cannot do
    └── DatabaseUnavailable   the file cannot be opened as our database (not SQLite,
        │                     read-only, missing directory, newer schema)
        ├── DatabaseReadOnly  the file (or its directory) cannot be written
        └── DatabaseDamaged   the file is SQLite but corrupt inside (quick_check fails)

sqlite3 errors are translated where they enter (in `corpus.py`), so callers above never see
a vendor exception.
"""


class StorageError(Exception):
    """Base class of every error the storage layer raises; its message is for the user."""


class DatabaseUnavailable(StorageError):
    """The database file cannot be opened or written as a digestbot corpus."""


class DatabaseReadOnly(DatabaseUnavailable):
    """The database cannot be written; read commands may still open it read-only."""


class DatabaseDamaged(DatabaseUnavailable):
    """The database is corrupt inside; it must be restored from a backup or re-created."""
