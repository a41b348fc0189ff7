import dataclasses
import math

import pytest
import torch

from aebook.models import LinearAutoencoder
from aebook.train import History, TrainConfig, TrainingDiverged, fit, still_improving
from conftest import mark_cached


def test_fit_overfits_one_small_batch():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 28, 28)
    model = LinearAutoencoder(latent_dim=16, hidden=(128,))
    history = fit(model, x, config=TrainConfig(steps=400, batch_size=16, lr=3e-3, eval_every=10),
                  progress=False)
    assert history.train_loss[0] > 0.05
    assert min(history.train_loss) < 0.005  # near zero against a start above 0.05


def test_history_is_complete(tiny_splits):
    # 256 images in batches of 64: 4 updates a pass; validation every 3 updates, budget 10
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=10, batch_size=64, eval_every=3), progress=False)
    assert history.step == [3, 6, 9, 10]  # the last validation falls where the budget ends
    assert history.steps_run == 10 and history.epochs_run == pytest.approx(2.5)
    assert len(history.val_loss) == len(history.lr) == len(history.train_loss) == 4
    assert history.best_step == history.step[min(range(4), key=history.val_loss.__getitem__)]
    assert history.best_val == min(history.val_loss)
    assert history.seconds > 0 and not history.stopped_early
    assert History.from_dict(history.to_dict()) == history


def test_validation_once_per_pass_when_eval_every_is_none(tiny_splits):
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=12, batch_size=64, eval_every=None), progress=False)
    assert history.step == [4, 8, 12] and history.epochs_run == 3


def test_early_stopping_stops(tiny_splits):
    # lr = 0: validation never improves after the first check, so patience 2 stops at the third
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=500, eval_every=5, lr=0.0, early_stopping_patience=2), progress=False)
    assert history.stopped_early and history.status == "stopped early"
    assert history.step == [5, 10, 15] and history.best_step == 5
    assert not history.still_improving


def test_still_improving_reads_the_last_quarter():
    assert still_improving([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])  # falling to the end
    assert not still_improving([1.0, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4])  # flat for the last quarter
    assert not still_improving([1.0, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.399])  # gain below 0.5%
    assert still_improving([1.0, 0.9])  # too short to call it flat


def test_a_budget_spent_while_falling_is_reported(tiny_splits):
    torch.manual_seed(0)
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=40, batch_size=64, eval_every=5, lr=1e-4), progress=False)
    assert history.still_improving and history.status == "still improving"


def test_plateau_schedule_halves_learning_rate(tiny_splits):
    # with a vanishing lr the validation loss cannot improve by the scheduler's threshold,
    # so patience 0 halves the rate after every validation but the first
    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=20, eval_every=4, lr=1e-6, lr_plateau_patience=0, lr_plateau_factor=0.5),
                  progress=False)
    assert history.lr == pytest.approx([1e-6, 1e-6, 5e-7, 2.5e-7, 1.25e-7])  # the first always counts as a gain


def test_best_state_is_restored(tiny_splits):
    torch.manual_seed(0)
    model = LinearAutoencoder(8)
    history = fit(model, tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=20, eval_every=4, lr=5e-2), progress=False)  # a large lr makes it bounce
    with torch.no_grad():
        val = float(((model(tiny_splits.val.x)[0] - tiny_splits.val.x) ** 2).mean())
    assert math.isclose(val, history.best_val, rel_tol=1e-4)


def test_same_seed_same_numbers(tiny_splits):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                        TrainConfig(steps=12, eval_every=4), progress=False).train_loss)
    assert runs[0] == runs[1]


def test_divergence_names_model_update_and_lr(tiny_splits):
    def exploding(model, x):
        x_hat, _ = model(x)
        return {"loss": ((x_hat - x) ** 2).mean() * float("nan")}

    with pytest.raises(TrainingDiverged, match=r"fc-test diverged by update 4 \(learning rate 0\.001\)"):
        fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x, TrainConfig(steps=12, eval_every=4),
            objective=exploding, name="fc-test", progress=False)


def test_extra_objective_terms_are_logged(tiny_splits):
    def with_terms(model, x):
        x_hat, z = model(x)
        recon_loss = ((x_hat - x) ** 2).mean()
        return {"loss": recon_loss, "recon_loss": recon_loss, "code_norm": z.pow(2).mean()}

    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=8, eval_every=4), objective=with_terms, progress=False)
    assert set(history.terms) == {"recon_loss", "code_norm"}
    assert history.terms["recon_loss"] == pytest.approx(history.train_loss)


def test_best_weights_are_chosen_on_the_objectives_select_on_term(tiny_splits):
    """An objective can name the term that picks the best weights (the mood head: reconstruction only)."""
    class Selecting:
        select_on = "recon_loss"

        def __init__(self):
            self.calls = 0

        def __call__(self, model, x):
            x_hat, _ = model(x)
            recon_loss = ((x_hat - x) ** 2).mean()
            self.calls += 1  # a total that only grows: selecting on it would keep the first validation
            return {"loss": recon_loss + 1e3 * self.calls, "recon_loss": recon_loss}

    history = fit(LinearAutoencoder(8), tiny_splits.train.x, tiny_splits.val.x,
                  TrainConfig(steps=40, eval_every=10, lr=1e-2), objective=Selecting(), progress=False)
    assert max(history.val_loss) < 1.0  # validations record the reconstruction term, not the growing total
    assert history.best_val == min(history.val_loss)
    assert history.best_step != history.step[0]  # on the total, the first validation would have been "best"


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
    from bookkit import notebooks as N

    path = tmp_path / "train.qmd"
    path.write_text("""# Train

```{python}
import torch
from aebook.models import LinearAutoencoder
from aebook.train import TrainConfig, fit
history = fit(LinearAutoencoder(4), torch.rand(64, 1, 28, 28), config=TrainConfig(steps=3, eval_every=1), name="tiny")
```
""")
    monkeypatch.setenv("AEBOOK_PROGRESS", "1")
    run = N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    outputs = [o for c in run.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert [o.output_type for o in outputs] == ["display_data"]  # one line, nothing on stderr
    assert outputs[0].data["text/plain"] == ""  # blanked when training ended


def test_explicit_progress_in_jupyter_uses_the_jupyter_line(tmp_path, monkeypatch):
    from bookkit import notebooks as N

    path = tmp_path / "train.qmd"
    path.write_text("""# Train

```{python}
import torch
from aebook.models import LinearAutoencoder
from aebook.train import TrainConfig, fit
history = fit(LinearAutoencoder(4), torch.rand(64, 1, 28, 28), config=TrainConfig(steps=2, eval_every=1), progress=True)
```
""")
    run = N.execute(N.qmd_to_notebook(path), cwd=tmp_path, timeout=120)
    outputs = [o for c in run.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert [o.output_type for o in outputs] == ["display_data"] and outputs[0].data["text/plain"] == ""


def test_one_cycle_rates_follow_the_cosine_formula():
    """Warm-up from lr/25 to lr over 30% of the updates, then a half cosine down to lr/25/1e4: the
    page's formula, checked against what PyTorch's scheduler gives at every update."""
    from aebook.train import learning_rates
    config = TrainConfig(steps=1_000, lr=1e-2, one_cycle=True)
    rates = learning_rates(config)
    start, peak, end = 1e-2 / 25, 1e-2, 1e-2 / 25 / 1e4
    up = round(0.3 * config.steps) - 1  # the update at which the peak is reached

    def cosine(a, b, fraction):  # from a to b along half a cosine
        return b + (a - b) * (1 + math.cos(math.pi * fraction)) / 2

    assert len(rates) == config.steps
    assert rates[0] == pytest.approx(start) and rates[up] == pytest.approx(peak)
    for t in (0, 100, 200, up):
        assert rates[t] == pytest.approx(cosine(start, peak, t / up))
    for t in (up, 500, 800, config.steps - 1):
        assert rates[t] == pytest.approx(cosine(peak, end, (t - up) / (config.steps - 1 - up)))
    assert max(rates) == pytest.approx(peak) and rates[-1] == pytest.approx(end)


def test_one_cycle_rates_are_read_back_from_the_cache(isolated_cache):
    from aebook.train import _one_cycle_rates, learning_rates
    config = TrainConfig(steps=50, lr=1e-2, one_cycle=True)
    assert learning_rates(config) == _one_cycle_rates(config)  # PyTorch's scheduler, the first time
    [path] = (isolated_cache / "derived").glob("learning-rates-*.pt")
    mark_cached(path, lambda _: [0.0] * 50)  # a second call must read this back
    assert learning_rates(config) == [0.0] * 50
    assert learning_rates(dataclasses.replace(config, lr=2e-2))[0] == pytest.approx(2e-2 / 25)  # other settings


def test_fit_follows_the_one_cycle_schedule(tiny_splits):
    from aebook.train import learning_rates
    config = TrainConfig(steps=60, batch_size=16, lr=1e-2, eval_every=10, one_cycle=True)
    history = fit(LinearAutoencoder(4), tiny_splits.train.x, tiny_splits.val.x, config, progress=False)
    rates = learning_rates(config)
    # history.lr holds the rate in force at the start of each block of 10 updates
    assert history.lr == pytest.approx([rates[s - 10] for s in history.step])


def test_one_schedule_at_a_time():
    with pytest.raises(ValueError, match="one schedule"):
        TrainConfig(one_cycle=True, lr_plateau_patience=5)


def test_precision_must_be_one_the_loop_knows():
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16; got 'float16'"):
        TrainConfig(precision="float16")


def test_bfloat16_trains_the_forward_in_bfloat16_and_keeps_float32_weights(tiny_splits, monkeypatch):
    seen = []
    model = LinearAutoencoder(latent_dim=4, hidden=(32,))
    model.encoder.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    config = TrainConfig(steps=8, batch_size=64, eval_every=4, precision="bfloat16")
    history = fit(model, tiny_splits.train.x, tiny_splits.val.x, config, progress=False)
    assert torch.bfloat16 in seen                      # the updates ran under autocast ...
    assert seen[-1] == torch.float32                   # ... validation did not
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(math.isfinite(v) for v in history.train_loss + history.val_loss)


def test_float32_is_untouched_by_the_precision_switch(tiny_splits):
    seen = []
    model = LinearAutoencoder(latent_dim=4, hidden=(32,))
    model.encoder.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    fit(model, tiny_splits.train.x, tiny_splits.val.x, TrainConfig(steps=8, batch_size=64, eval_every=4),
        progress=False)
    assert set(seen) == {torch.float32}
