// Latent traversal: pick a test image and a code dimension, drag the slider, and the
// trained decoder (running in this page) redraws the image from the shifted code.
(function (A) {
  A.traverse = function (root, data) {
    const dec = new A.Decoder(data.decoder), [, H, W] = data.decoder.image_shape;
    const images = data.images.map(im => ({ label: im.label, z: Float64Array.from(im.z), pixels: A.bytes(im.pixels) }));
    let current = 0, dim = data.dims[0].index;
    root.classList.add("aew-traverse");

    const pickRow = A.el("div", { class: "aew-row", role: "group", "aria-label": "test image" }, root);
    const thumbs = images.map((im, i) => {
      const c = A.el("canvas", { width: 56, height: 56, class: "aew-thumb", title: im.label, tabindex: 0 }, pickRow);
      A.drawGray(c, im.pixels, W, H, true);
      c.addEventListener("click", () => { current = i; update(); });
      return c;
    });

    const controls = A.el("div", { class: "aew-row" }, root);
    A.el("label", { text: "dimension ", for: root.id + "-dim" }, controls);
    const select = A.el("select", { id: root.id + "-dim", class: "aew-select" }, controls);
    data.dims.forEach((d, rank) => A.el("option", { value: d.index,
      text: `z[${d.index}]  (variance rank ${rank + 1}, σ = ${d.sd.toFixed(2)})` }, select));
    select.addEventListener("change", () => { dim = +select.value; update(); });
    A.el("label", { text: "  offset ", for: root.id + "-offset" }, controls);
    const slider = A.el("input", { id: root.id + "-offset", type: "range", min: -data.max_sd, max: data.max_sd,
                                   step: 0.1, value: 0, class: "aew-slider" }, controls);
    slider.addEventListener("input", update);

    const stage = A.el("div", { class: "aew-row" }, root);
    const left = A.el("figure", { class: "aew-panel" }, stage);
    const original = A.el("canvas", { width: 168, height: 168 }, left);
    A.el("figcaption", { text: "original" }, left);
    const right = A.el("figure", { class: "aew-panel" }, stage);
    const decoded = A.el("canvas", { width: 168, height: 168, class: "aew-decoded" }, right);
    const caption = A.el("figcaption", {}, right);
    const readout = A.el("p", { class: "aew-readout", "aria-live": "polite" }, root);

    function update() {
      const im = images[current], d = data.dims.find(x => x.index === dim), k = +slider.value;
      const z = Float64Array.from(im.z);
      z[dim] += k * d.sd;
      const x = dec.decode(z);
      A.drawGray(original, im.pixels, W, H, true);
      A.drawGray(decoded, x, W, H, false);
      thumbs.forEach((t, i) => t.classList.toggle("aew-selected", i === current));
      caption.textContent = `decoded, z[${dim}] ${k >= 0 ? "+" : "−"} ${Math.abs(k).toFixed(1)} σ`;
      let mean = 0;
      for (const v of x) mean += v / x.length;
      readout.textContent = `${im.label}: z[${dim}] = ${z[dim].toFixed(2)} (its own value ${im.z[dim].toFixed(2)}, ` +
        `offset ${k.toFixed(1)} σ). Mean brightness of the decoded image: ${mean.toFixed(3)}.`;
      root.dataset.state = `${current}|${dim}|${k}`;
    }
    update();
  };
})(window.AEBook);
