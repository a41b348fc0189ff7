"""The classic baselines: the examples VAE's shape, the classic recipe, and how BENCHMARKS.md keeps the tables."""

import torch

from bookkit import baselines as B
from aebook.models import ExampleVAE, count_parameters
from aebook.zoo import classic_config


def test_examples_vae_has_the_published_layers():
    vae = ExampleVAE().eval()
    # 784*400+400, 400*40+40, 20*400+400, 400*784+784
    assert count_parameters(vae) == 652_824
    with torch.no_grad():
        x_hat, mu, logvar = vae(torch.rand(3, 1, 28, 28))
    assert x_hat.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 20)
    assert float(x_hat.min()) >= 0 and float(x_hat.max()) <= 1


def test_classic_recipe_is_whole_epochs_at_batch_128_keeping_the_last_weights():
    config = classic_config(n_train=1_000, epochs=10)
    assert config.steps == 10 * 8 and config.batch_size == 128 and config.eval_every is None
    assert not config.restore_best and config.early_stopping_patience is None


def test_benchmarks_keep_one_table_per_data_set(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nfigures\n")
    B.update_benchmarks(path, "standin", "### Stand-in\n\n| a |\n")
    B.update_benchmarks(path, "fashion-mnist-2443", "### Sample\n\n| b |\n")
    B.update_benchmarks(path, "standin", "### Stand-in\n\n| c |\n")  # a rerun replaces its own table
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\nfigures") and text.count("## Baselines") == 1
    assert "| a |" not in text and "| b |" in text and "| c |" in text
    assert text.index("| c |") < text.index("| b |")  # replaced in place


def test_markdown_table_has_every_model_and_the_elbo_only_for_vaes():
    table = B.markdown({"VAE": {"recipe": "classic", "parameters": 10, "updates": 5, "training": "converged",
                                "seconds": 12, "test MSE": 0.01234, "test −ELBO (nats)": 271.26},
                        "PCA": {"recipe": "exact", "parameters": 3, "test MSE": 0.02}}, "Sample")
    lines = table.splitlines()
    assert lines[0] == "### Sample" and "| VAE | classic | 10 | 5 | converged | 12 | 0.0123 | 271.3 |" in lines
    assert "| PCA | exact | 3 |  |  |  | 0.0200 |  |" in lines


def test_the_replaced_recipe_is_the_old_one_and_the_books_differs_only_in_schedule_and_budget():
    from aebook import zoo

    old, new = B.replaced_recipe(), zoo.fashion_config()
    assert (old.lr, old.lr_plateau_patience, old.one_cycle) == (1e-3, 5, False)
    assert new.one_cycle and new.lr_plateau_patience is None and new.steps * 2 == old.steps
    same = ("batch_size", "eval_every", "early_stopping_patience", "restore_best", "seed", "weight_decay")
    assert all(getattr(old, f) == getattr(new, f) for f in same)
