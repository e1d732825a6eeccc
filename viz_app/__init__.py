"""The Streamlit app: widgets and layout only. Numbers come from nanogpt, figures from figures.py."""
