// The bottleneck: one real test image sent through a trained model, layer by layer.
// Each block is one layer's output, drawn with an area proportional to how many numbers
// it holds; feature maps are tiled channel by channel. Press "send it through" to watch.
(function (A) {
  A.bottleneck = function (root, data) {
    let model = 0, image = 0, reached = Infinity, timer = null;
    root.classList.add("aew-bottleneck");
    const top = A.el("div", { class: "aew-row" }, root);
    const buttons = data.models.map((m, i) => {
      const b = A.el("button", { type: "button", text: m.name }, top);
      b.addEventListener("click", () => { model = i; reached = Infinity; draw(); });
      return b;
    });
    const play = A.el("button", { type: "button", text: "▶ send it through" }, top);
    const thumbs = A.el("div", { class: "aew-row" }, root);
    const images = data.images.map((im, i) => {
      const c = A.el("canvas", { width: 42, height: 42, class: "aew-thumb", title: im.label }, thumbs);
      A.drawGray(c, A.bytes(im.pixels), 28, 28, true);
      c.addEventListener("click", () => { image = i; draw(); });
      return c;
    });
    const flow = A.el("div", { class: "aew-flow" }, root);
    const readout = A.el("p", { class: "aew-readout", "aria-live": "polite" }, root);

    function tile(stage) {  // layout: channels as tiles, or a vector as a near-square block
      const s = stage.shape;
      if (s.length === 3) {
        const [C, h, w] = s, cols = Math.ceil(Math.sqrt(C)), rows = Math.ceil(C / cols);
        return { cols, rows, h, w, C };
      }
      const n = s[0], w = Math.ceil(Math.sqrt(n)), h = Math.ceil(n / w);
      return { cols: 1, rows: 1, h, w, C: 1 };
    }
    function drawStage(canvas, stage, values) {
      const t = tile(stage), gap = 1, W = t.cols * (t.w + gap) - gap, H = t.rows * (t.h + gap) - gap;
      const small = document.createElement("canvas");
      small.width = W; small.height = H;
      const ctx = small.getContext("2d"), img = ctx.createImageData(W, H);
      for (let i = 0; i < img.data.length; i += 4) { img.data[i] = 128; img.data[i + 1] = 128; img.data[i + 2] = 128; img.data[i + 3] = 60; }
      const per = t.h * t.w;
      for (let c = 0; c < t.C; c++) {
        const ox = (c % t.cols) * (t.w + gap), oy = Math.floor(c / t.cols) * (t.h + gap);
        for (let j = 0; j < per; j++) {
          const k = c * per + j;
          if (k >= values.length) break;
          const p = 4 * ((oy + Math.floor(j / t.w)) * W + ox + (j % t.w)), v = values[k];
          img.data[p] = img.data[p + 1] = img.data[p + 2] = v; img.data[p + 3] = 255;
        }
      }
      ctx.putImageData(img, 0, 0);
      const side = 4 * Math.sqrt(values.length), scale = side / Math.max(W, H);
      canvas.width = Math.max(8, Math.round(W * scale)); canvas.height = Math.max(8, Math.round(H * scale));
      const big = canvas.getContext("2d");
      big.imageSmoothingEnabled = false;
      big.drawImage(small, 0, 0, canvas.width, canvas.height);
    }
    function draw() {
      const m = data.models[model];
      buttons.forEach((b, i) => b.classList.toggle("aew-on", i === model));
      images.forEach((c, i) => c.classList.toggle("aew-selected", i === image));
      flow.innerHTML = "";
      m.stages.forEach((stage, i) => {
        const box = A.el("div", { class: "aew-layer" + (i > reached ? " aew-dim" : "") }, flow);
        const c = A.el("canvas", {}, box);
        drawStage(c, stage, A.bytes(stage.activations[image]));
        A.el("small", { text: stage.label }, box);
        A.el("small", { text: `${stage.shape.join("×")} = ${stage.shape.reduce((a, b) => a * b, 1).toLocaleString("en")}` }, box);
      });
      const sizes = m.stages.map(s => s.shape.reduce((a, b) => a * b, 1)), code = Math.min(...sizes);
      readout.textContent = `${m.name}: ${sizes[0]} numbers in, ${code} at the bottleneck ` +
        `(${(sizes[0] / code).toFixed(1)}× fewer), ${sizes[sizes.length - 1]} out; ` +
        `largest layer ${Math.max(...sizes).toLocaleString("en")} numbers. ` +
        `Brightness shows each layer's values, scaled per layer.`;
      root.dataset.state = `${model}|${image}|${reached}`;
    }
    play.addEventListener("click", () => {
      clearInterval(timer);
      reached = 0; draw();
      timer = setInterval(() => {
        reached += 1; draw();
        if (reached >= data.models[model].stages.length - 1) { clearInterval(timer); reached = Infinity; }
      }, 450);
    });
    draw();
  };
})(window.AEBook);
