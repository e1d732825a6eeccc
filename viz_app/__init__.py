"""The Streamlit app, in layers: the page shell (app.py, pages.py, page.py, url_state.py, sidebar.py,
export.py), views/ (one file per page), backend/ (everything holding torch, threads or st.cache_*),
and figures/ (pure numpy -> Plotly). Numbers come from nanogpt through backend/."""
