"""The store: the SQLite database and the only code that writes it.

`schema` declares and migrates the tables; `writer.StoreWriter` applies a finished visit in one
transaction; `AsyncStore` runs the writer on its own thread so the crawl's event loop never
blocks on SQLite.
"""

from crawler.store.schema import ensure_schema, open_database
from crawler.store.writer import AsyncStore, StoreWriter

__all__ = ["AsyncStore", "StoreWriter", "ensure_schema", "open_database"]
