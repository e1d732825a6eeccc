"""The processes that are not page runs: how an app server starts (app_process: `make app`, each of
`make serve`'s processes, the bench, the tests, with the one health check), `make serve` itself
(serve: several app processes behind nginx) and the installed `attention-lab` command (cli). None of
them imports Streamlit or a page-run module (tests/test_import_rules.py)."""
