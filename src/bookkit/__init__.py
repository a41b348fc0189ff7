"""bookkit: how the book "Autoencoders, built and seen" is made.

The learner's package, ``aebook``, holds what a chapter imports and a reader reads. This
one holds the machinery around it, and imports ``aebook`` (never the other way round):

- ``project``    the project files: the chapters in ``_quarto.yml``, a code cell's options
- ``markdown``   Quarto's Markdown made plain for Jupyter
- ``notebooks``  ``python -m bookkit.notebooks``: chapters as notebooks, executed
- ``site``       ``python -m bookkit.site``: the rendered pages made self-contained (post-render)
- ``claims``     ``python -m bookkit.claims``: every page's sentences checked against its ledger
- ``baselines``  ``python -m bookkit.baselines``: the book's models beside classic baselines
- ``bench``      the measurements behind ``make bench``
- ``browser``    the one way the tools start a headless Chromium
"""
