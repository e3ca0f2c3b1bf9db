"""Training's own code: the labelled data loaders and the scoring rules.

``scripts/train_heads.py`` and ``scripts/train_adapter.py`` import from here, and so does the
quality benchmark (``bench`` may import anything); training never imports ``bench`` or
``streams`` (an import contract in pyproject.toml checks it).
"""
