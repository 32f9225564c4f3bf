"""Model Explorer: find, inspect and run Hugging Face transformers checkpoints locally."""

__version__ = "0.1.0"
APP_NAME = "Model Explorer"
APP_ID = "io.github.modelexplorer.ModelExplorer"
