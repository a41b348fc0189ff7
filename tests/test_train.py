import math

import pytest
import torch

from aebook.models import LinearAutoencoder
from aebook.train import History, TrainConfig, TrainingDiverged, fit


def test_fit_overfits_one_small_batch():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 28, 28)
    model = LinearAutoencoder(latent_dim=16, hidden=(128,))
    history = fit(model, x, config=TrainConfig(epochs=400, batch_size=16, lr=3e-3), progress=False)
    assert history.train_loss[0] > 0.05
    assert min(history.train_loss) < 0.005  # near zero against a start above 0.05


def test_history_is_complete(tiny_splits):
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(epochs=4, batch_size=64), progress=False)
    assert history.epochs_run == 4
    assert len(history.val_loss) == len(history.lr) == 4
    assert history.best_epoch == 1 + min(range(4), key=history.val_loss.__getitem__)
    assert history.best_val == min(history.val_loss)
    assert history.seconds > 0 and not history.stopped_early
    assert History.from_dict(history.to_dict()) == history


def test_early_stopping_stops(tiny_splits):
    # lr = 0: validation never improves after epoch 1, so patience 2 stops at epoch 3
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(epochs=50, lr=0.0, early_stopping_patience=2), progress=False)
    assert history.stopped_early
    assert history.epochs_run == 3 and history.best_epoch == 1


def test_plateau_schedule_halves_learning_rate(tiny_splits):
    # with a vanishing lr the validation loss cannot improve by the scheduler's threshold,
    # so patience 0 halves the rate after every epoch but the first
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(epochs=5, lr=1e-6, lr_plateau_patience=0, lr_plateau_factor=0.5),
                  progress=False)
    assert history.lr == pytest.approx([1e-6, 1e-6, 5e-7, 2.5e-7, 1.25e-7])  # epoch 1 always counts as a gain


def test_best_state_is_restored(tiny_splits):
    torch.manual_seed(0)
    model = LinearAutoencoder(8)
    history = fit(model, tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(epochs=5, lr=5e-2), progress=False)  # a large lr makes it bounce
    with torch.no_grad():
        val = float(((model(tiny_splits.val.x)[0] - tiny_splits.val.x) ** 2).mean())
    assert math.isclose(val, history.best_val, rel_tol=1e-4)


def test_same_seed_same_numbers(tiny_splits):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                        TrainConfig(epochs=3), progress=False).train_loss)
    assert runs[0] == runs[1]


def test_divergence_names_model_epoch_and_lr(tiny_splits):
    def exploding(model, x):
        x_hat, _ = model(x)
        return {"loss": ((x_hat - x) ** 2).mean() * float("nan")}

    with pytest.raises(TrainingDiverged, match=r"fc-test diverged at epoch 1 \(learning rate 0\.001\)"):
        fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x, TrainConfig(epochs=3),
            objective=exploding, name="fc-test", progress=False)


def test_extra_objective_terms_are_logged(tiny_splits):
    def with_terms(model, x):
        x_hat, z = model(x)
        recon_loss = ((x_hat - x) ** 2).mean()
        return {"loss": recon_loss, "recon_loss": recon_loss, "code_norm": z.pow(2).mean()}

    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(epochs=2), objective=with_terms, progress=False)
    assert set(history.terms) == {"recon_loss", "code_norm"}
    assert history.terms["recon_loss"] == pytest.approx(history.train_loss)


def test_progress_is_off_while_quarto_renders(monkeypatch):
    from aebook.train import progress_mode

    monkeypatch.delenv("AEBOOK_PROGRESS", raising=False)
    monkeypatch.setenv("QUARTO_DOCUMENT_PATH", "/somewhere")
    assert progress_mode() is None
    monkeypatch.setenv("AEBOOK_PROGRESS", "1")
    assert progress_mode() is None  # a rendered page never gets a progress bar
    monkeypatch.delenv("QUARTO_DOCUMENT_PATH")
    assert progress_mode() == "terminal"
    monkeypatch.setenv("AEBOOK_PROGRESS", "0")
    assert progress_mode() is None


def test_jupyter_progress_updates_one_line_then_leaves_it_empty(tmp_path, monkeypatch):
    from aebook import notebooks as N

    path = tmp_path / "train.qmd"
    path.write_text("""# Train

```{python}
import torch
from aebook.models import LinearAutoencoder
from aebook.train import TrainConfig, fit
history = fit(LinearAutoencoder(4), torch.rand(64, 1, 28, 28), config=TrainConfig(epochs=3), name="tiny")
```
""")
    monkeypatch.setenv("AEBOOK_PROGRESS", "1")
    run = N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    outputs = [o for c in run.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert [o.output_type for o in outputs] == ["display_data"]  # one line, nothing on stderr
    assert outputs[0].data["text/plain"] == ""  # blanked when training ended


def test_explicit_progress_in_jupyter_uses_the_jupyter_line(tmp_path, monkeypatch):
    from aebook import notebooks as N

    path = tmp_path / "train.qmd"
    path.write_text("""# Train

```{python}
import torch
from aebook.models import LinearAutoencoder
from aebook.train import TrainConfig, fit
history = fit(LinearAutoencoder(4), torch.rand(64, 1, 28, 28), config=TrainConfig(epochs=2), progress=True)
```
""")
    run = N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    outputs = [o for c in run.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert [o.output_type for o in outputs] == ["display_data"] and outputs[0].data["text/plain"] == ""
