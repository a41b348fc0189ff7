"""A listing shows the package's own source, with its own file and line numbers, decorated functions too."""

import inspect

from aebook.latent import lerp, slerp, slerp_standard, top_variance_dims, traverse
from aebook.realism import FrechetSpace, nearest_distance
from aebook.report import listing


def test_listings_of_chapter_3_are_the_source_with_its_file_and_lines():
    for obj, where in [(traverse, "aebook/latent.py"), (nearest_distance, "aebook/realism.py"),
                       (top_variance_dims, "aebook/latent.py"), (lerp, "aebook/latent.py"),
                       (slerp, "aebook/latent.py"), (slerp_standard, "aebook/latent.py"),
                       (FrechetSpace.distance, "aebook/realism.py")]:
        text = listing(obj).data
        lines, start = inspect.getsourcelines(obj)
        assert f"*`{where}`, lines {start}–{start + len(lines) - 1}*" in text
        assert "".join(lines).rstrip("\n") in text
