"""aebook: the shared code of the book "Autoencoders, built and seen".

One module per concept: ``runtime`` (device, seeding, smoke mode, paths), ``data``,
``models``, ``losses``, ``train``, ``checkpoints`` (the model cache), ``latent``,
``plots``, ``report`` (rich tables) and ``notebooks`` (chapters as notebooks).
"""

__version__ = "0.1.0"
