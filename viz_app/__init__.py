"""The Streamlit app, in layers (ARCHITECTURE.md; tests/test_import_rules.py checks them): the router
(app.py, pages.py); the shell every page run goes through (page.py, guard.py, controls.py,
compare_section.py, sidebar.py, classroom/, presenter.py, export.py, upload_state.py, url_state.py,
delivery.py); views/ (one file per page); backend/ (everything holding torch, threads or st.cache_*);
figures/ (pure numpy -> Plotly); serving/ (the processes that are not page runs); compat.py (Streamlit's
internals). Numbers come from nanogpt through backend/."""
