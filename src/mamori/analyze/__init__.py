"""Offline analysis of login logs (`mamori analyze`, docs/analyze.md).

A log (the RBA dataset format or our own export; CSV or JSON lines) is streamed into DuckDB once;
the per-bucket and per-source aggregates the service's pure engines read are computed there, and
the engines (`mamori.defense`, `mamori.risk`) run on them in time order. Python never holds the
rows: it sees one window of aggregates per detector call and the few logins it scores.

    formats.py    the two formats, `sniff`, the normalizing SELECT, the export to our format
    db.py         the DuckDB connection (memory limit, spill folder), the load, progress polling
    aggregate.py  bucket totals, window sources and baselines, IP-rule runs, lock hits (SQL)
    detection.py  `replay`: the detector per bucket, the relative, IP and lock rules -> orders,
                  incidents
    flags.py      orders -> bans -> flagged rows; precision/recall; affected accounts; activity
    riskscan.py   which logins are scored, their frequency counts (SQL), `score_login`
    run.py        `analyze`: the stages in order -> `Analysis`; `export`
    report.py     Markdown and CSV
    console.py    the rich progress bar and summary of the CLI
    progress.py   the Progress role and NullProgress
    synthetic.py  a generated RBA-format log with planted attacks (tests, benchmark)
"""
