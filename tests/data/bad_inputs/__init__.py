"""Bad-input corpus: see corpus.py."""
