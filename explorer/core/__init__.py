"""Qt-free core: discovery, checkpoint facts, headers, settings. Never imports Qt; torch and
transformers only inside the functions that need them."""
