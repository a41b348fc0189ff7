// A live decoder: drag the point across a 2-D latent plane, drawn over the codes of real
// test images, and the trained decoder (running in this page) redraws the image.
// Buttons switch between models (a plain autoencoder and a VAE).
(function (A) {
  A.latent2d = function (root, data) {
    const models = data.models.map(m => ({ name: m.name, dec: new A.Decoder(m.decoder), points: A.floats(m.points),
                                           box: m.box, labels: A.bytes(m.labels) }));
    const [, H, W] = data.models[0].decoder.image_shape, size = 360;
    let current = 0, z = models[0].box.start.slice();
    root.classList.add("aew-latent2d");
    const top = A.el("div", { class: "aew-row" }, root);
    const buttons = models.map((m, i) => {
      const b = A.el("button", { type: "button", text: m.name }, top);
      b.addEventListener("click", () => { current = i; z = models[i].box.start.slice(); draw(); });
      return b;
    });
    const stage = A.el("div", { class: "aew-row" }, root);
    const plane = A.el("canvas", { width: size, height: size, class: "aew-plane", tabindex: 0,
                                   style: "cursor: crosshair; touch-action: none; image-rendering: auto" }, stage);
    const right = A.el("figure", { class: "aew-panel" }, stage);
    const image = A.el("canvas", { width: 196, height: 196, class: "aew-decoded" }, right);
    const caption = A.el("figcaption", {}, right);
    A.legend(root, data.classes, data.colours);

    const toPixel = (m, p) => [(p[0] - m.box.x[0]) / (m.box.x[1] - m.box.x[0]) * size,
                               (1 - (p[1] - m.box.y[0]) / (m.box.y[1] - m.box.y[0])) * size];
    const toCode = (m, px, py) => [m.box.x[0] + px / size * (m.box.x[1] - m.box.x[0]),
                                   m.box.y[0] + (1 - py / size) * (m.box.y[1] - m.box.y[0])];
    function draw() {
      const m = models[current], g = plane.getContext("2d");
      buttons.forEach((b, i) => b.classList.toggle("aew-on", i === current));
      g.clearRect(0, 0, size, size);
      g.globalAlpha = 0.55;
      for (let i = 0; i < m.labels.length; i++) {
        const [px, py] = toPixel(m, [m.points[2 * i], m.points[2 * i + 1]]);
        g.fillStyle = data.colours[m.labels[i] % data.colours.length];
        g.fillRect(px - 1.5, py - 1.5, 3, 3);
      }
      g.globalAlpha = 1;
      const [cx, cy] = toPixel(m, z);
      g.strokeStyle = "#000"; g.lineWidth = 3;
      g.beginPath(); g.arc(cx, cy, 7, 0, 2 * Math.PI); g.stroke();
      g.strokeStyle = "#fff"; g.lineWidth = 1.5;
      g.beginPath(); g.arc(cx, cy, 7, 0, 2 * Math.PI); g.stroke();
      A.drawGray(image, m.dec.decode(z), W, H, false);
      caption.textContent = `${m.name}: z = (${z[0].toFixed(2)}, ${z[1].toFixed(2)})`;
      root.dataset.state = `${current}|${z[0].toFixed(4)}|${z[1].toFixed(4)}`;
    }
    let dragging = false;
    function move(ev) {
      const r = plane.getBoundingClientRect();
      const px = (ev.clientX - r.left) / r.width * size, py = (ev.clientY - r.top) / r.height * size;
      z = toCode(models[current], Math.min(size, Math.max(0, px)), Math.min(size, Math.max(0, py)));
      draw();
    }
    plane.addEventListener("pointerdown", ev => { dragging = true; plane.setPointerCapture(ev.pointerId); move(ev); });
    plane.addEventListener("pointermove", ev => { if (dragging) move(ev); });
    plane.addEventListener("pointerup", () => { dragging = false; });
    plane.addEventListener("keydown", ev => {
      const m = models[current], sx = (m.box.x[1] - m.box.x[0]) / 50, sy = (m.box.y[1] - m.box.y[0]) / 50;
      const d = { ArrowLeft: [-sx, 0], ArrowRight: [sx, 0], ArrowUp: [0, sy], ArrowDown: [0, -sy] }[ev.key];
      if (d) { z = [z[0] + d[0], z[1] + d[1]]; draw(); ev.preventDefault(); }
    });
    root.setCode = function (code, model) {  // for tests and scripting: put the point at `code`
      if (model !== undefined) current = model;
      z = code.slice(); draw();
      return Array.from(models[current].dec.decode(z));
    };
    draw();
  };
})(window.AEBook);
