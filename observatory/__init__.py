"""The read side of fediscope: answers, pages, charts, exports and the dataset.

Everything here only reads a database that the crawler (crawler/) filled and the analysis
(graph/) derived tables in. Each answer is a library function over a SQLite connection; the CLI,
the Datasette plugin (observatory.plugin) and the notebooks all call the same functions.
"""
