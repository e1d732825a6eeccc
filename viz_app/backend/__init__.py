"""Everything that holds torch, threads or st.cache_*: loaded models, cached captures, generation
runs, training jobs, ablation results and uploaded files. Pages call it; it calls nanogpt."""
