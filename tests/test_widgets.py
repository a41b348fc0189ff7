"""Every widget under src/aebook/web, opened in headless Chromium: it draws, it reacts, it stays offline."""

from __future__ import annotations

import pytest
import torch

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
        return W.traversal(conv, x[:4], ["a", "b", "c", "d"], dims=[3, 1, 0], sds=torch.ones(8))
    if name == "flatten":
        return W.neighbours(x[0], corr_1=0.9)
    if name == "latent2d":
        torch.manual_seed(1)
        ae2 = trained_looking(ConvAutoencoder(latent_dim=2))
        vae2 = trained_looking(ConvVAE(latent_dim=2))
        y = torch.arange(len(x)) % 10
        return W.latent_plane({"autoencoder": ae2, "VAE": vae2}, x, y, [str(i) for i in range(10)])
    if name == "bottleneck":
        return W.bottleneck({"fc": LinearAutoencoder(8).eval(), "conv": conv}, x[:2], ["a", "b"])
    raise AssertionError(f"widget {name} has no test: add one here")


def canvas_pixels(page, selector):
    return page.eval_on_selector(selector, "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)")


def open_widget(b, tmp_path, name):
    path = tmp_path / f"{name}.html"
    path.write_text(build(name).page())
    return visit(b, path)


def test_every_widget_in_assets_has_a_test():
    assert W.widget_names() == ["bottleneck", "flatten", "latent2d", "traverse"]
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
        for seed in range(3):  # the page's decoder equals PyTorch's at several codes
            z = torch.randn(8, generator=torch.Generator().manual_seed(seed)) * 2
            in_page = page.evaluate("([s, z]) => Array.from(new AEBook.Decoder(s).decode(z))",
                                    [spec, z.tolist()])
            expected = conv.decode(z[None]).flatten()
            assert torch.allclose(torch.tensor(in_page, dtype=torch.float32), expected, atol=1e-5)
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
