"""What a launcher (`make app CKPT=... VOCAB=...`, the `attention-lab` command) hands the app: the
model file to open first and its vocabulary, by environment variable, and the kinds of file each may
be. No streamlit here: the command line checks its arguments with these before any server starts;
imported.py reads the variables inside the app."""

OPEN_ENV = "ATTENTION_LAB_CKPT"  # a model file of any supported kind
VOCAB_ENV = "ATTENTION_LAB_VOCAB"  # its vocabulary: nanoGPT's meta.pkl or the training text
MODEL_TYPES = ("safetensors", "pt", "pth")
VOCAB_TYPES = ("pkl", "txt")
