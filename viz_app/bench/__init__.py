"""The app's benchmarks: `python -m viz_app.bench` runs the library's sections (nanogpt.bench) and
the app's page sections (page_runs.py); `python -m viz_app.bench classroom` puts a class of sessions on
one server (classroom.py; follow.py a class following its teacher, proxy.py through `make serve`), all
measured with harness.py (a server, a session on Streamlit's websocket, the report's percentiles)."""
