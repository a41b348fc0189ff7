"""Every widget under src/aebook/web, opened in headless Chromium: it draws, it reacts, it stays offline."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from aebook import playground as G
from aebook import widgets as W
from aebook.models import ConvAutoencoder, ConvVAE, LinearAutoencoder
from browser import browser, screenshot_dir, visit


def conv_model():
    """A seeded conv autoencoder with non-trivial BatchNorm statistics (so BN folding is tested)."""
    torch.manual_seed(0)
    return trained_looking(ConvAutoencoder(latent_dim=8))


def trained_looking(model):
    """Give BatchNorm layers statistics and affine weights far from their defaults."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def images(n=12):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.2
    x[:, :, 8:20, 6:22] += 0.7
    return x


def build(name):
    conv = conv_model()
    x = images()
    if name == "traverse":
        return W.traverse(conv, x[:4], ["a", "b", "c", "d"], dims=[3, 1, 0], sds=torch.ones(8))
    if name == "flatten":
        return W.flatten(x[0], corr_1=0.9)
    if name == "latent2d":
        torch.manual_seed(1)
        ae2 = trained_looking(ConvAutoencoder(latent_dim=2))
        vae2 = trained_looking(ConvVAE(latent_dim=2))
        y = torch.arange(len(x)) % 10
        return W.latent2d({"autoencoder": ae2, "VAE": vae2}, x, y, [str(i) for i in range(10)])
    if name == "bottleneck":
        return W.bottleneck({"fc": LinearAutoencoder(8).eval(), "conv": conv}, x[:2], ["a", "b"])
    if name == "trainer":
        x, y = trainer_images()
        return G.trainer(x, y, [str(i) for i in range(10)])
    raise AssertionError(f"widget {name} has no test: add one here")


def canvas_pixels(page, selector):
    return page.eval_on_selector(selector, "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)")


def open_widget(b, tmp_path, name):
    path = tmp_path / f"{name}.html"
    path.write_text(build(name).page())
    return visit(b, path)


def test_every_widget_in_assets_has_a_test():
    assert W.widget_names() == ["bottleneck", "flatten", "latent2d", "trainer", "traverse"]
    for name in W.widget_names():
        assert build(name).name == name


def test_unknown_widget_is_named():
    with pytest.raises(ValueError, match="no widget named 'nope'"):
        W.Widget("nope", {})


def test_export_refuses_layers_it_cannot_translate():
    model = ConvAutoencoder(4)
    model.decoder.append(torch.nn.Tanh())
    with pytest.raises(ValueError, match="Tanh"):
        W.export_decoder(model)


def test_traverse_widget_decodes_like_pytorch_and_reacts(tmp_path):
    widget = build("traverse")
    conv = conv_model()
    with browser() as b, open_widget(b, tmp_path, "traverse") as v:
        page = v.page
        spec = widget.data["decoder"]
        assert spec["dtype"] == "float16"  # the check passed: half the bytes on the page
        exact = W.export_decoder(conv, precision="float32")
        rounded = W.half_precision_decoder(conv)
        for seed in range(3):  # the page's decoder equals PyTorch's at several codes
            z = torch.randn(8, generator=torch.Generator().manual_seed(seed)) * 2
            expected = conv.decode(z[None]).flatten()
            in_page = page.evaluate("([s, z]) => Array.from(new AEBook.Decoder(s).decode(z))", [exact, z.tolist()])
            assert torch.allclose(torch.tensor(in_page, dtype=torch.float32), expected, atol=1e-5)
            in_page = page.evaluate("([s, z]) => Array.from(new AEBook.Decoder(s).decode(z))", [spec, z.tolist()])
            half = torch.tensor(in_page, dtype=torch.float32)  # float16 weights, read back exactly
            assert torch.allclose(half, rounded(z[None]).flatten(), atol=1e-5)
            assert (half - expected).abs().max() < W.HALF_PRECISION_TOLERANCE
        assert len(json.dumps(spec)) < 0.6 * len(json.dumps(exact))
        before = canvas_pixels(page, "canvas.aew-decoded")
        page.fill("input[type=range]", "3")
        page.dispatch_event("input[type=range]", "input")
        after = canvas_pixels(page, "canvas.aew-decoded")
        assert before != after, "moving the slider did not change the decoded image"
        state = page.get_attribute(".aebook-widget", "data-state")
        page.select_option("select", "1")
        page.click("canvas.aew-thumb >> nth=2")
        assert page.get_attribute(".aebook-widget", "data-state") == "2|1|3" != state
        page.screenshot(path=str(screenshot_dir() / "widget-traverse.png"))
        assert v.errors == [] and v.outside == []


def test_flatten_widget_follows_the_pointer(tmp_path):
    with browser() as b, open_widget(b, tmp_path, "flatten") as v:
        page = v.page
        assert page.get_attribute(".aebook-widget", "data-state") == str(14 * 28 + 14)
        box = page.locator("canvas.aew-grid").bounding_box()
        page.mouse.move(box["x"] + 3.5 * box["width"] / 28, box["y"] + 2.5 * box["height"] / 28)
        assert page.get_attribute(".aebook-widget", "data-state") == str(2 * 28 + 3)
        text = page.inner_text(".aew-readout")
        assert "Pixel (2, 3) = position 59" in text and "3 runs spread over 59 positions" in text
        page.screenshot(path=str(screenshot_dir() / "widget-flatten.png"))
        assert v.errors == [] and v.outside == []


def test_bottleneck_widget_switches_models_and_plays(tmp_path):
    with browser() as b, open_widget(b, tmp_path, "bottleneck") as v:
        page = v.page
        fc_blocks = page.locator(".aew-layer").count()
        assert fc_blocks == 7  # input, 256, 64, code, 64, 256, output
        page.click("button >> text=conv")
        assert page.locator(".aew-layer").count() == 7  # input, 16x14x14, 32x7x7, code, 32x7x7, 16x14x14, output
        assert "1×28×28 = 784" in page.inner_text(".aew-flow") and "8 at the bottleneck" in page.inner_text(".aew-readout")
        page.click("button >> text=send it through")
        assert page.locator(".aew-layer.aew-dim").count() == 6  # only the input has arrived
        page.wait_for_function("document.querySelectorAll('.aew-layer.aew-dim').length === 0", timeout=10_000)
        page.screenshot(path=str(screenshot_dir() / "widget-bottleneck.png"))
        assert v.errors == [] and v.outside == []


def test_live_decoder_matches_pytorch_drags_and_toggles(tmp_path):
    torch.manual_seed(1)
    ae2 = trained_looking(ConvAutoencoder(latent_dim=2))
    vae2 = trained_looking(ConvVAE(latent_dim=2))
    with browser() as b, open_widget(b, tmp_path, "latent2d") as v:
        page = v.page
        for model_index, model in enumerate([ae2, vae2]):  # the page decodes like PyTorch, per model
            for code in ([0.0, 0.0], [1.3, -0.7], [-2.1, 2.4]):
                in_page = page.evaluate("([c, m]) => document.querySelector('.aebook-widget').setCode(c, m)",
                                        [code, model_index])
                expected = model.decode(torch.tensor([code])).flatten()
                assert (torch.tensor(in_page) - expected).abs().max() < 1e-3
        page.click("button >> text=autoencoder")
        before, state = canvas_pixels(page, "canvas.aew-decoded"), page.get_attribute(".aebook-widget", "data-state")
        box = page.locator("canvas.aew-plane").bounding_box()
        page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.15 * box["height"], steps=5)
        page.mouse.up()
        assert page.get_attribute(".aebook-widget", "data-state") != state
        assert canvas_pixels(page, "canvas.aew-decoded") != before, "dragging did not change the image"
        page.click("button >> text=VAE")
        assert page.get_attribute(".aebook-widget", "data-state").startswith("1|")
        page.screenshot(path=str(screenshot_dir() / "widget-latent2d.png"))
        assert v.errors == [] and v.outside == []


# ---- the in-page trainer (web/trainer.js) and its PyTorch twin (aebook.playground) ----

def trainer_images(n=60):
    """Clothing-like test images: a bright block whose place depends on the class, plus noise, with exact zeros."""
    g = torch.Generator().manual_seed(2)
    y = torch.arange(n) % 10
    x = torch.zeros(n, 1, 28, 28)
    for i, c in enumerate(y.tolist()):
        x[i, 0, 4 + c: 14 + c, 6:22] = 0.5 + 0.5 * torch.rand(10, 16, generator=g)
    return G.as_bytes(x), y


def run_node(job: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("the trainer's gradient check did not run: no `node` on PATH (apt-get install nodejs)")
    done = subprocess.run([node, str(Path(__file__).with_name("trainer_node.js"))], input=json.dumps(job),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("vae", [False, True], ids=["autoencoder", "vae"])
@pytest.mark.parametrize("optimiser", ["sgd", "adam"])
def test_trainer_gradients_agree_with_pytorch(vae, optimiser):
    """One step of the page's network (same weights, batch and noise) against autograd: weights agree to 1e-5."""
    x, _ = trainer_images(16)
    x = x.reshape(16, -1).double()
    eps = torch.randn(16, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    job = dict(job="step", seed=7, hidden=64, pixels=784, x=x.flatten().tolist(), n=16, vae=vae, beta=1.5,
               eps=eps.flatten().tolist(), lr=0.05, optimiser=optimiser, steps=1)
    page = run_node(job)
    model = G.TinyAE(64, 784, seed=7)
    for name in G.SHAPES:  # the same initial weights, drawn from the same generator
        assert torch.equal(torch.tensor(page["before"][name], dtype=torch.float64), getattr(model, name).detach().flatten())
    opt = (torch.optim.SGD if optimiser == "sgd" else torch.optim.Adam)(model.parameters(), lr=0.05)
    out = G.losses(model, x, vae, 1.5, eps)
    opt.zero_grad()
    out["loss"].backward()
    opt.step()
    assert page["losses"][0]["loss"] == pytest.approx(float(out["loss"].detach()), rel=1e-9)
    for name in G.SHAPES:
        if not vae and name in ("Wlv", "blv"):
            continue  # the plain autoencoder does not use the log-variance head
        after = torch.tensor(page["after"][name], dtype=torch.float64)
        expected = getattr(model, name).detach().flatten()
        assert torch.allclose(after, expected, rtol=1e-5, atol=1e-12), name
        moved = expected - torch.tensor(page["before"][name], dtype=torch.float64)
        assert moved.abs().max() > 0, f"{name} did not move"  # and the check above is not vacuous
        assert (after - expected).abs().max() <= 1e-6 * moved.abs().max(), name


def test_trainer_replays_the_pytorch_run_in_the_browser(tmp_path):
    """The page's fixed-seed run is the chapter's replay: same losses, same codes, for both models."""
    x, y = trainer_images()
    widget = G.trainer(x, y, [str(i) for i in range(10)])
    (tmp_path / "trainer.html").write_text(widget.page())
    with browser() as b, visit(b, tmp_path / "trainer.html") as v:
        page = v.page
        for button, settings in (("ae", G.TrainerSettings()), ("vae", G.TrainerSettings(vae=True))):
            page.click(f"[data-act={button}]")
            state = page.evaluate("() => document.querySelector('.aebook-widget').train(120)")
            run = G.Run(x, settings)
            for _ in range(120):
                run.step()
            # not bit for bit: sums run in another order, and Adam magnifies the last digits a little
            assert [h["loss"] for h in state["history"]] == pytest.approx([h["loss"] for h in run.history], rel=1e-6)
            codes = torch.tensor(state["codes"], dtype=torch.float64).reshape(-1, 2)
            assert torch.allclose(codes, run.codes(), rtol=1e-4, atol=1e-5)
            stats = G.code_stats(run.codes())
            assert state["mean"] == pytest.approx(stats["mean"], rel=1e-4, abs=1e-5)
            assert state["variance"] == pytest.approx(stats["variance"], rel=1e-4)
        assert v.errors == [] and v.outside == []


def test_trainer_plays_pauses_resets_and_stops_a_divergence(tmp_path):
    x, y = trainer_images()
    (tmp_path / "trainer.html").write_text(G.trainer(x, y, [str(i) for i in range(10)]).page())
    with browser() as b, visit(b, tmp_path / "trainer.html") as v:
        page = v.page
        plane, pairs = canvas_pixels(page, "canvas.aew-plane"), canvas_pixels(page, "canvas >> nth=2")
        page.click("[data-act=play]")
        page.wait_for_function("+document.querySelector('.aebook-widget').dataset.steps > 150", timeout=30_000)
        page.wait_for_timeout(400)
        page.click("[data-act=play]")  # pause
        state = page.evaluate("() => document.querySelector('.aebook-widget').state()")
        losses = [h["loss"] for h in state["history"]]
        assert sum(losses[-20:]) / 20 < 0.8 * sum(losses[:5]) / 5, "the loss did not fall"
        assert canvas_pixels(page, "canvas.aew-plane") != plane, "the scatter did not move"
        assert canvas_pixels(page, "canvas >> nth=2") != pairs, "the reconstructions did not change"
        assert "steps/s" not in page.inner_text(".aew-readout")  # paused: no rate shown
        steps = state["steps"]
        page.wait_for_timeout(300)
        assert int(page.get_attribute(".aebook-widget", "data-steps")) == steps  # paused means paused
        page.click("[data-act=reset]")
        assert page.get_attribute(".aebook-widget", "data-steps") == "0"
        page.select_option("[data-knob=lr]", "1")
        page.click("[data-act=play]")
        page.wait_for_function("document.querySelector('.aebook-widget').dataset.diverged === 'true'", timeout=30_000)
        assert "Diverged at step" in page.inner_text(".aew-readout")
        assert page.inner_text("[data-act=play]") == "▶ play"
        assert v.errors == [] and v.outside == []


def test_trainer_pauses_at_the_step_the_page_measures_and_shows_the_planes_range(tmp_path):
    """pause_at: play stops exactly there (so a reader can compare with the page), and goes on once unticked;
    the plane's edges carry its range, which follows the codes."""
    x, y = trainer_images()
    (tmp_path / "trainer.html").write_text(G.trainer(x, y, [str(i) for i in range(10)], pause_at=40).page())
    with browser() as b, visit(b, tmp_path / "trainer.html") as v:
        page = v.page
        assert "pause at step 40" in page.inner_text(".aebook-widget")
        page.click("[data-act=play]")
        page.wait_for_function("document.querySelector('[data-act=play]').textContent.includes('play')"
                               " && +document.querySelector('.aebook-widget').dataset.steps > 0", timeout=30_000)
        assert int(page.get_attribute(".aebook-widget", "data-steps")) == 40
        page.wait_for_timeout(300)
        assert int(page.get_attribute(".aebook-widget", "data-steps")) == 40  # paused means paused
        page.uncheck("[data-knob=pause]")
        page.click("[data-act=play]")
        page.wait_for_function("+document.querySelector('.aebook-widget').dataset.steps > 60", timeout=30_000)
        page.click("[data-act=play]")
        # the range at the plane's edges: the text drawn is read back from a canvas call log
        drawn = page.evaluate("""() => {
            const texts = [], proto = CanvasRenderingContext2D.prototype, fill = proto.fillText;
            proto.fillText = function (t, ...rest) { texts.push(String(t)); return fill.call(this, t, ...rest); };
            document.querySelector('[data-act=step]').click();
            proto.fillText = fill;
            return texts; }""")
        state = page.evaluate("() => document.querySelector('.aebook-widget').state()")
        top = max(state["codes"][1::2])
        labels = [t for t in drawn if t.startswith("z₂ ")]
        assert labels, drawn
        low, high = (float(v.replace("−", "-")) for v in labels[0].split()[2::2])  # "z₂ from a to b"
        assert low < min(state["codes"][1::2]) and high > top, (labels, top)  # the plane holds every code
        assert v.errors == [] and v.outside == []


def test_replay_reports_learning_collapse_and_divergence():
    """The chapter's claims come from replays: a normal run learns, a learning rate of 1 diverges."""
    x, y = trainer_images()
    calm = G.replay(x, y, G.TrainerSettings(), 150)
    assert calm.diverged_at is None and calm.end_loss < 0.8 * calm.start_loss
    assert calm.end_knn >= calm.start_knn and len(calm.variance) == 2 and calm.kl == 0
    vae = G.replay(x, y, G.TrainerSettings(vae=True), 150)
    assert vae.kl > 0 and sum(vae.variance) < sum(calm.variance)  # the KL term pulls the codes in
    wild = G.replay(x, y, G.TrainerSettings(lr=1.0), 150)
    assert wild.diverged_at is not None and wild.steps == wild.diverged_at


def test_export_keeps_float32_where_float16_weights_would_change_the_image():
    class Tiny(torch.nn.Module):
        def __init__(self, weight: float):
            super().__init__()
            self.decoder = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Sigmoid())
            with torch.no_grad():
                self.decoder[0].weight.fill_(weight)
                self.decoder[0].bias.fill_(-1000.0)

    codes = torch.tensor([[1.0]])
    coarse = Tiny(1000.3)  # float16 steps by 0.5 near 1000: sigmoid(0.3) would become sigmoid(0.5)
    assert W.half_precision_error(coarse, codes) > W.HALF_PRECISION_TOLERANCE
    assert W.export_decoder(coarse, (1, 1, 1), codes=codes)["dtype"] == "float32"
    assert W.export_decoder(Tiny(1000.5), (1, 1, 1), codes=codes)["dtype"] == "float16"  # exact in float16
    with pytest.raises(ValueError, match="precision"):
        W.export_decoder(coarse, precision="float8")
