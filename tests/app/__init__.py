"""AppTest tests of the Streamlit app. A package, so its conftest is app.conftest and never
shadows the root tests/conftest.py that other test modules import by name."""
