"""Product catalog sync (DESIGN §8).

How a catalog gets in, one module per step:

- `source`: open a spooled file as text (gzip, BOM, UTF-8 or cp1252), with bounded line length.
- `detect`: which format a file is (content type, name, first bytes), unless the caller says.
- `formats/`: one parser per format, each yielding `RawProduct`s with their row numbers.
- `mapping`: header aliases and the merchant's `fieldMapping`, for the generic formats.
- `values` and `records`: the rules that turn raw values into a valid `ProductRecord`.
- `staging` and `apply`: rows go to a per-connection staging table, then one transaction
  applies them (or nothing) with the deletion guard of `mode: full`.
- `runs`: the run lifecycle (one active run per merchant, heartbeat, final status, recovery).
- `importer`: a run from file to final status; `feeds` fetches a feed URL into a file;
  `jobs` is the worker's scheduled-feed job; `inbound` verifies and applies platform webhooks.
- `config`, `search`: the merchant's sync settings and product queries.
"""
