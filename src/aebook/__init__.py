"""aebook: the code of the book "Autoencoders, built and seen", in the order the book uses it.

- ``data``, ``standin``         Fashion-MNIST in memory (read, never changed), and its generated stand-in
- ``models``                    the autoencoders and VAEs: ``encode``, ``decode``, ``forward``
- ``losses``                    squared error, Bernoulli, KL and the negative ELBO, each citing its equation
- ``train``                     one plain training loop: ``TrainConfig``, ``fit``, ``History``
- ``checkpoints``, ``zoo``      load or train (the model cache), and the book's models trained one way
- ``latent``                    codes: encoding, t-SNE, PCA and principal angles, traversals, interpolation
- ``measures``                  reconstruction error, pixel statistics, the ELBO's bound on log p(x), noise
- ``realism``                   how real a decoded image looks
- ``emoji``, ``arithmetic``     the emoji faces, and arithmetic on their codes
- ``ood``                       images from outside Fashion-MNIST: grey emoji, drawn digits, MNIST
- ``plots``, ``display``        Plotly figures, and how they are shown on a page or in a notebook
- ``widgets``, ``playground``   interactive figures (``web/``), and the trainer that runs in the page
- ``report``                    tables, and listings of this package's own source
- ``claims``, ``quarto_md``     the ledger of measured claims, and ``prose()`` for notebooks
- ``memo``, ``files``           caching derived results, and writing every file whole or not at all
- ``runtime``                   device, seeding, smoke mode, switches and paths

How the book itself is made (notebooks, the site, the page checker, benchmarks) is another
package, ``bookkit``, which imports this one and never the reverse.
"""

__version__ = "0.1.0"
