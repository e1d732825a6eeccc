"""Pure figures: numpy in, Plotly out, no Streamlit. kit.py is the plotting kit; each other module
draws for the page of the same name in views/."""
