"""Columnar analytics: a DuckDB replica of the collections, kept from the change feed, that
answers the aggregate queries :mod:`lumadb.query.columnar` translates."""
