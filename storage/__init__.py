"""Everything that talks to DuckDB: schema, migrations and named queries. No other package imports duckdb."""
