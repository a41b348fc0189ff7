// What flattening does to neighbours: hover (or tap) a pixel of a real image. Its 3x3
// neighbourhood lights up in the image and in the flat list of 784 numbers that a fully
// connected layer receives; a convolution would see the same nine pixels as one patch.
(function (A) {
  A.flatten = function (root, data) {
    const H = data.height, W = data.width, n = H * W, px = A.bytes(data.pixels), scale = 10;
    let centre = data.start;
    root.classList.add("aew-flatten");
    const row = A.el("div", { class: "aew-row" }, root);
    const grid = A.el("canvas", { width: W * scale, height: H * scale, class: "aew-grid", tabindex: 0,
                                  "aria-label": "image; hover a pixel" }, row);
    const table = A.el("div", { class: "aew-values", style: "font-variant-numeric: tabular-nums" }, row);
    A.el("p", { text: `The same ${n} pixels as the flat vector a fully connected layer reads ` +
                      `(row by row, ${W} per row):`, style: "margin:0.4rem 0 0.1rem" }, root);
    const stripRows = 4, perRow = Math.ceil(n / stripRows), cell = Math.max(1, Math.floor(1000 / perRow));
    const strip = A.el("canvas", { width: perRow * cell, height: stripRows * 30, class: "aew-strip",
                                   style: "max-width:100%" }, root);
    const readout = A.el("p", { class: "aew-readout", "aria-live": "polite" }, root);

    function neighbours(i) {
      const r = Math.floor(i / W), c = i % W, out = [];
      for (let dr = -1; dr <= 1; dr++)
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr, cc = c + dc;
          if (rr >= 0 && rr < H && cc >= 0 && cc < W) out.push(rr * W + cc);
        }
      return out;
    }
    function draw() {
      const hood = neighbours(centre), g = grid.getContext("2d");
      A.drawGray(grid, px, W, H, true);
      g.lineWidth = 2;
      for (const j of hood) {
        g.strokeStyle = j === centre ? "#d62728" : "#ff7f0e";
        g.strokeRect((j % W) * scale + 1, Math.floor(j / W) * scale + 1, scale - 2, scale - 2);
      }
      const s = strip.getContext("2d");
      s.clearRect(0, 0, strip.width, strip.height);
      for (let j = 0; j < n; j++) {
        const v = px[j], x = (j % perRow) * cell, y = Math.floor(j / perRow) * 30;
        s.fillStyle = `rgb(${v},${v},${v})`;
        s.fillRect(x, y + 8, cell, 18);
      }
      for (const j of hood) {
        s.fillStyle = j === centre ? "#d62728" : "#ff7f0e";
        s.fillRect((j % perRow) * cell - 1, Math.floor(j / perRow) * 30, cell + 2, 7);
      }
      // the values, and how much the centre differs from its neighbours vs from far pixels
      const r = Math.floor(centre / W), c = centre % W;
      // built with DOM calls: an HTML string holding a table tag would be parsed by Quarto at render time
      const values = document.createElement("table");
      values.style.borderCollapse = "collapse";
      for (let dr = -1; dr <= 1; dr++) {
        const row = values.insertRow();
        for (let dc = -1; dc <= 1; dc++) {
          const rr = r + dr, cc = c + dc, ok = rr >= 0 && rr < H && cc >= 0 && cc < W;
          const td = row.insertCell();
          td.textContent = ok ? (px[rr * W + cc] / 255).toFixed(2) : "";
          td.style.padding = "0.1rem 0.45rem";
          td.style.border = "1px solid rgba(128,128,128,.5)";
          if (dr === 0 && dc === 0) td.style.fontWeight = "bold";
        }
      }
      table.replaceChildren(values);
      const others = hood.filter(j => j !== centre);
      const near = others.reduce((a, j) => a + Math.abs(px[j] - px[centre]), 0) / others.length / 255;
      let far = 0;
      for (let j = 0; j < n; j++) far += Math.abs(px[j] - px[centre]) / n / 255;
      const spread = Math.max(...hood) - Math.min(...hood);
      readout.textContent = `Pixel (${r}, ${c}) = position ${centre} in the flat vector. ` +
        `Its ${others.length} neighbours differ from it by ${near.toFixed(2)} on average, ` +
        `all the image's pixels by ${far.toFixed(2)}. In the flat vector the neighbourhood is split ` +
        `into ${new Set(hood.map(j => Math.floor(j / W))).size} runs spread over ${spread + 1} positions. ` +
        `Across the training set, neighbouring pixels correlate at ${data.corr_1.toFixed(2)}.`;
      root.dataset.state = String(centre);
    }
    function at(ev) {
      const rect = grid.getBoundingClientRect();
      const c = Math.floor((ev.clientX - rect.left) / rect.width * W), r = Math.floor((ev.clientY - rect.top) / rect.height * H);
      if (r >= 0 && r < H && c >= 0 && c < W && r * W + c !== centre) { centre = r * W + c; draw(); }
    }
    grid.addEventListener("mousemove", at);
    grid.addEventListener("click", at);
    grid.addEventListener("keydown", ev => {
      const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -W, ArrowDown: W }[ev.key];
      if (step !== undefined) { centre = Math.min(n - 1, Math.max(0, centre + step)); draw(); ev.preventDefault(); }
    });
    draw();
  };
})(window.AEBook);
