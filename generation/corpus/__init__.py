"""Package data: a small public-domain text corpus for the offline composer (``*.txt``).

Each file names its source in a ``#`` header; each other line is
``text | attribution | themes``. Loaded by :mod:`generation.corpus_lines`.
"""
