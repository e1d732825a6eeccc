"""Pure figures: numpy in, Plotly out, no Streamlit and no torch. kit.py is the plotting kit and
heads.py the figures of heads every page shares; the others draw for one page of views/ (attention,
sharpness, residual, attribution, induction, timeline, generate, train, ablations) or one section
(compare: beside another model; classroom: a class's tally; legend, text_view: parts of figures)."""
