"""The store: the SQLite database and the only code that writes it.

`schema` declares and migrates the tables; `writer.StoreWriter` applies a finished visit in one
transaction; `process.StoreProcess` runs the writer in a child process, so the crawl's event
loop neither blocks on SQLite nor shares a GIL with the writer's Python work.
"""

from crawler.store.process import StoreProcess
from crawler.store.schema import ensure_schema, open_database
from crawler.store.writer import StoreWriter

__all__ = ["StoreProcess", "StoreWriter", "ensure_schema", "open_database"]
