// Train an autoencoder in the page: a fully connected network with a 2-number code, on real
// images embedded in the page, with hand-written backpropagation and Adam. Plain JavaScript,
// double precision, no libraries. `AEBook.TinyAE` is the maths (also run by the test suite
// in Node against PyTorch); `AEBook.trainer` is the widget around it.
window.AEBook = window.AEBook || {};
(function (A) {
  // A small seeded generator (mulberry32): the same seed gives the same run in every browser.
  A.rng = function (seed) {
    let s = seed >>> 0;
    return function () {
      s = (s + 0x6D2B79F5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  };
  A.normal = function (rand) {  // one standard normal draw (Box-Muller)
    const u = 1 - rand(), v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };

  // y (n, out) = x (n, in) W^T + b, with W stored (out, in) as PyTorch does. Four running sums
  // instead of one: each addition no longer waits for the previous one (about twice as fast).
  function linear(x, n, nin, W, b, nout) {
    const y = new Float64Array(n * nout), end = nin - (nin % 4);
    for (let r = 0; r < n; r++) {
      const xr = r * nin, yr = r * nout;
      for (let o = 0; o < nout; o++) {
        const wr = o * nin;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
        for (; i < end; i += 4) {
          s0 += x[xr + i] * W[wr + i]; s1 += x[xr + i + 1] * W[wr + i + 1];
          s2 += x[xr + i + 2] * W[wr + i + 2]; s3 += x[xr + i + 3] * W[wr + i + 3];
        }
        for (; i < nin; i++) s0 += x[xr + i] * W[wr + i];
        y[yr + o] = b[o] + ((s0 + s1) + (s2 + s3));
      }
    }
    return y;
  }
  // gW += dy^T x, gb += sum of dy; returns dx = dy W when wanted
  function linearBack(x, dy, n, nin, W, nout, gW, gb, wantDx) {
    const dx = wantDx ? new Float64Array(n * nin) : null;
    for (let r = 0; r < n; r++) {
      const xr = r * nin, yr = r * nout;
      for (let o = 0; o < nout; o++) {
        const g = dy[yr + o];
        if (g === 0) continue;
        gb[o] += g;
        const wr = o * nin;
        for (let i = 0; i < nin; i++) {
          gW[wr + i] += g * x[xr + i];
          if (dx) dx[xr + i] += g * W[wr + i];
        }
      }
    }
    return dx;
  }

  // The first layer sees images, about half of whose pixels are exactly 0: these two visit only
  // the non-zero pixels (listed once per batch in `nz`), which halves the biggest products.
  function nonzero(x, n, nin) {
    const nz = [];
    for (let r = 0; r < n; r++) {
      const idx = [];
      for (let i = 0; i < nin; i++) if (x[r * nin + i] !== 0) idx.push(i);
      nz.push(Int32Array.from(idx));
    }
    return nz;
  }
  function linearSparse(x, n, nin, nz, W, b, nout) {
    const y = new Float64Array(n * nout);
    for (let r = 0; r < n; r++) {
      const xr = r * nin, idx = nz[r], m = idx.length;
      for (let o = 0; o < nout; o++) {
        const wr = o * nin;
        let s0 = 0, s1 = 0, j = 0;
        for (; j + 1 < m; j += 2) { s0 += x[xr + idx[j]] * W[wr + idx[j]]; s1 += x[xr + idx[j + 1]] * W[wr + idx[j + 1]]; }
        if (j < m) s0 += x[xr + idx[j]] * W[wr + idx[j]];
        y[r * nout + o] = b[o] + (s0 + s1);
      }
    }
    return y;
  }
  function linearSparseBack(x, dy, n, nin, nz, nout, gW, gb) {
    for (let r = 0; r < n; r++) {
      const xr = r * nin, idx = nz[r], m = idx.length;
      for (let o = 0; o < nout; o++) {
        const g = dy[r * nout + o];
        if (g === 0) continue;
        gb[o] += g;
        const wr = o * nin;
        for (let j = 0; j < m; j++) { const i = idx[j]; gW[wr + i] += g * x[xr + i]; }
      }
    }
  }

  // The network: 784 -> hidden -> 2 (mu; and 2 for logvar in the VAE) -> hidden -> 784.
  // Parameters are drawn as PyTorch's nn.Linear draws them: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  A.TinyAE = function (opts) {
    const P = opts.pixels || 784, H = opts.hidden || 64, D = 2;
    const shapes = { W1: [H, P], b1: [H, 1], Wmu: [D, H], bmu: [D, 1], Wlv: [D, H], blv: [D, 1],
                     W3: [H, D], b3: [H, 1], W4: [P, H], b4: [P, 1] };
    const names = Object.keys(shapes);
    const rand = A.rng(opts.seed || 0);
    const params = {};
    for (const k of names) {
      const [o, i] = shapes[k], fanIn = k[0] === "W" ? i : shapes["W" + k.slice(1)][1], bound = 1 / Math.sqrt(fanIn);
      params[k] = Float64Array.from({ length: o * i }, () => (2 * rand() - 1) * bound);
    }
    const adam = { t: 0, m: {}, v: {} };
    for (const k of names) { adam.m[k] = new Float64Array(params[k].length); adam.v[k] = new Float64Array(params[k].length); }
    this.params = params; this.names = names; this.shapes = shapes; this.P = P; this.H = H;

    // Forward pass for n images x (n*P values in [0,1]); eps (n*2 normal draws) only for the VAE.
    this.forward = function (x, n, vae, eps) {
      const p = params, nz = nonzero(x, n, P), h1 = linearSparse(x, n, P, nz, p.W1, p.b1, H);
      for (let i = 0; i < h1.length; i++) if (h1[i] < 0) h1[i] = 0;
      const mu = linear(h1, n, H, p.Wmu, p.bmu, D);
      const logvar = vae ? linear(h1, n, H, p.Wlv, p.blv, D) : null;
      const z = new Float64Array(n * D);
      for (let i = 0; i < n * D; i++) z[i] = vae ? mu[i] + Math.exp(0.5 * logvar[i]) * eps[i] : mu[i];
      const h2 = linear(z, n, D, p.W3, p.b3, H);
      for (let i = 0; i < h2.length; i++) if (h2[i] < 0) h2[i] = 0;
      const logits = linear(h2, n, H, p.W4, p.b4, P);
      return { nz, h1, mu, logvar, z, h2, logits };
    };

    // Loss, per image averaged over the batch: recon_loss = sum over pixels of the binary cross-entropy
    // between x and sigmoid(logits); for the VAE plus beta * kl, kl = 0.5 * sum(mu^2 + exp(logvar) - 1 - logvar).
    this.loss = function (x, n, f, vae, beta) {
      let recon = 0, kl = 0;
      for (let i = 0; i < n * P; i++) {
        const l = f.logits[i];
        recon += Math.max(l, 0) - l * x[i] + Math.log1p(Math.exp(-Math.abs(l)));
      }
      if (vae) for (let i = 0; i < n * D; i++) kl += 0.5 * (f.mu[i] * f.mu[i] + Math.exp(f.logvar[i]) - 1 - f.logvar[i]);
      recon /= n; kl /= n;
      return { recon_loss: recon, kl, loss: recon + (vae ? beta * kl : 0) };
    };

    // Gradients of that loss with respect to every parameter.
    this.gradients = function (x, n, f, vae, beta, eps) {
      const p = params, g = {};
      for (const k of names) g[k] = new Float64Array(p[k].length);
      const dlogits = new Float64Array(n * P);
      for (let i = 0; i < n * P; i++) dlogits[i] = (1 / (1 + Math.exp(-f.logits[i])) - x[i]) / n;
      const dh2 = linearBack(f.h2, dlogits, n, H, p.W4, P, g.W4, g.b4, true);
      for (let i = 0; i < dh2.length; i++) if (f.h2[i] <= 0) dh2[i] = 0;
      const dz = linearBack(f.z, dh2, n, D, p.W3, H, g.W3, g.b3, true);
      const dmu = new Float64Array(n * D), dlv = vae ? new Float64Array(n * D) : null;
      for (let i = 0; i < n * D; i++) {
        dmu[i] = dz[i] + (vae ? beta * f.mu[i] / n : 0);
        if (vae) {
          const sd = Math.exp(0.5 * f.logvar[i]);
          dlv[i] = dz[i] * 0.5 * sd * eps[i] + beta * 0.5 * (Math.exp(f.logvar[i]) - 1) / n;
        }
      }
      const dh1 = linearBack(f.h1, dmu, n, H, p.Wmu, D, g.Wmu, g.bmu, true);
      if (vae) {
        const more = linearBack(f.h1, dlv, n, H, p.Wlv, D, g.Wlv, g.blv, true);
        for (let i = 0; i < dh1.length; i++) dh1[i] += more[i];
      }
      for (let i = 0; i < dh1.length; i++) if (f.h1[i] <= 0) dh1[i] = 0;
      linearSparseBack(x, dh1, n, P, f.nz, H, g.W1, g.b1);
      return g;
    };

    // One optimiser update: "sgd" (w -= lr g) or "adam" (PyTorch's defaults: betas 0.9, 0.999, eps 1e-8).
    this.apply = function (g, lr, optimiser) {
      if (optimiser === "sgd") {
        for (const k of names) { const w = params[k], gk = g[k]; for (let i = 0; i < w.length; i++) w[i] -= lr * gk[i]; }
        return;
      }
      adam.t += 1;
      const c1 = 1 - Math.pow(0.9, adam.t), c2 = 1 - Math.pow(0.999, adam.t);
      for (const k of names) {
        const w = params[k], gk = g[k], m = adam.m[k], v = adam.v[k];
        for (let i = 0; i < w.length; i++) {
          m[i] = 0.9 * m[i] + 0.1 * gk[i];
          v[i] = 0.999 * v[i] + 0.001 * gk[i] * gk[i];
          w[i] -= lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + 1e-8);
        }
      }
    };

    // A whole training step on the batch; returns its losses (before the update).
    this.step = function (x, n, o) {
      const f = this.forward(x, n, o.vae, o.eps);
      const out = this.loss(x, n, f, o.vae, o.beta);
      this.apply(this.gradients(x, n, f, o.vae, o.beta, o.eps), o.lr, o.optimiser || "adam");
      return out;
    };

    this.encode = function (x, n) { return this.forward(x, n, false, null).mu; };  // the code (the mean for a VAE)
    this.decode = function (z) {  // one code -> P pixel values in [0, 1]
      const h = linear(Float64Array.from(z), 1, D, params.W3, params.b3, H);
      for (let i = 0; i < H; i++) if (h[i] < 0) h[i] = 0;
      const l = linear(h, 1, H, params.W4, params.b4, P);
      return l.map(v => 1 / (1 + Math.exp(-v)));
    };
  };

  // A seeded training run: batches drawn without replacement, reshuffled every pass, and the VAE's
  // noise from its own stream, so a reset replays exactly the same run.
  A.Run = function (images, n, opts) {
    const P = opts.pixels || 784;
    this.net = new A.TinyAE(opts);
    this.steps = 0; this.history = [];
    const order = Array.from({ length: n }, (_, i) => i), shuffle = A.rng((opts.seed || 0) + 1), noise = A.rng((opts.seed || 0) + 2);
    let cursor = n;
    this.batch = function (size) {
      const x = new Float64Array(size * P);
      for (let r = 0; r < size; r++) {
        if (cursor >= n) {
          for (let i = n - 1; i > 0; i--) { const j = Math.floor(shuffle() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
          cursor = 0;
        }
        x.set(images.subarray(order[cursor] * P, (order[cursor] + 1) * P), r * P);
        cursor += 1;
      }
      return x;
    };
    this.step = function (o) {
      const x = this.batch(o.batch);
      const eps = o.vae ? Float64Array.from({ length: o.batch * 2 }, () => A.normal(noise)) : null;
      const out = this.net.step(x, o.batch, Object.assign({}, o, { eps }));
      this.steps += 1;
      this.history.push(out);
      return out;
    };
  };

  if (typeof document === "undefined") return;  // Node (the gradient test): the maths only

  A.trainer = function (root, data) {
    const P = data.width * data.height, labels = A.bytes(data.labels), n = labels.length, shown = data.shown;
    const bytes = A.bytes(data.pixels), images = new Float64Array(n * P);
    for (let i = 0; i < images.length; i++) images[i] = bytes[i] / 255;
    const settings = { vae: false, lr: data.lr, batch: data.batch, beta: 1, optimiser: "adam" };
    let run = null, playing = false, lastDraw = 0, rate = 0, rateMark = { t: 0, steps: 0 }, diverged = false;
    root.classList.add("aew-trainer");
    root.dataset.poke = "[data-act=step]";  // what the site checks press to see the widget respond

    const bar = A.el("div", { class: "aew-row" }, root);
    const play = A.el("button", { type: "button", text: "▶ play", "data-act": "play" }, bar);
    const once = A.el("button", { type: "button", text: "one step", "data-act": "step" }, bar);
    const reset = A.el("button", { type: "button", text: "↺ reset", "data-act": "reset" }, bar);
    const kinds = ["autoencoder", "VAE"].map((name, i) => {
      const b = A.el("button", { type: "button", text: name, "data-act": name === "VAE" ? "vae" : "ae" }, bar);
      b.addEventListener("click", () => { settings.vae = i === 1; restart(); });
      return b;
    });
    const knobs = A.el("div", { class: "aew-row" }, root);
    const choice = (label, key, values, fmt) => {
      A.el("label", { text: label, for: `${root.id}-${key}` }, knobs);
      const s = A.el("select", { id: `${root.id}-${key}`, class: "aew-select", "data-knob": key }, knobs);
      values.forEach(v => A.el("option", { value: v, text: fmt ? fmt(v) : String(v) }, s));
      s.value = String(settings[key]);
      s.addEventListener("change", () => { settings[key] = +s.value; });
      return s;
    };
    choice("learning rate ", "lr", data.lrs);
    choice("  batch ", "batch", data.batches);
    const betaLabel = A.el("label", { text: "  β ", for: `${root.id}-beta` }, knobs);
    const beta = A.el("input", { id: `${root.id}-beta`, type: "range", min: 0, max: 4, step: 0.1, value: 1,
                                 class: "aew-slider", style: "width: 8rem", "data-knob": "beta" }, knobs);
    const betaValue = A.el("span", { text: "1.0" }, knobs);
    beta.addEventListener("input", () => { settings.beta = +beta.value; betaValue.textContent = (+beta.value).toFixed(1); });
    let pauseAt = null;  // "pause at step N": play stops there, so a reader can compare with the page's numbers
    if (data.pause_at) {
      const id = `${root.id}-pause`;
      pauseAt = A.el("input", { id, type: "checkbox", "data-knob": "pause" }, knobs);
      pauseAt.checked = true;
      A.el("label", { text: ` pause at step ${data.pause_at.toLocaleString("en")}`, for: id }, knobs);
    }
    const readout = A.el("p", { class: "aew-readout", "aria-live": "off" }, root);

    const stage = A.el("div", { class: "aew-row", style: "align-items: flex-start" }, root);
    const left = A.el("figure", { class: "aew-panel" }, stage);
    const plane = A.el("canvas", { width: 300, height: 300, class: "aew-plane",  // touch-action: a finger decodes, not scrolls
                                   style: "image-rendering: auto; cursor: crosshair; touch-action: none" }, left);
    A.el("figcaption", { text: "code z of every image; the labels in two corners give the plane's range (hover to decode a point)" }, left);
    const right = A.el("div", { style: "display: flex; flex-direction: column; gap: 0.4rem" }, stage);
    const curveFig = A.el("figure", { class: "aew-panel" }, right);
    const curve = A.el("canvas", { width: 320, height: 150, style: "image-rendering: auto" }, curveFig);
    const curveCap = A.el("figcaption", { text: "loss per image over the steps" }, curveFig);
    const pairsFig = A.el("figure", { class: "aew-panel" }, right);
    const pairs = A.el("canvas", { width: 40 * shown.length, height: 80 }, pairsFig);
    A.el("figcaption", { text: "inputs (top) and reconstructions" }, pairsFig);
    const hoverFig = A.el("figure", { class: "aew-panel" }, right);
    const hover = A.el("canvas", { width: 84, height: 84, class: "aew-decoded" }, hoverFig);
    const hoverCap = A.el("figcaption", {}, hoverFig);
    A.legend(root, data.classes, data.colours);
    let box = { x: [-3, 3], y: [-3, 3] }, codes = null;

    function restart() {
      run = new A.Run(images, n, { seed: data.seed, hidden: data.hidden, pixels: P });
      diverged = false; rateMark = { t: performance.now(), steps: 0 }; rate = 0; box = null;
      kinds.forEach((b, i) => b.classList.toggle("aew-on", (i === 1) === settings.vae));
      betaLabel.style.opacity = beta.style.opacity = betaValue.style.opacity = settings.vae ? 1 : 0.35;
      beta.disabled = !settings.vae;
      draw();
    }
    function steps(k) {  // k training steps now; a NaN or runaway loss stops the run
      for (let i = 0; i < k && !diverged; i++) {
        const out = run.step(settings);
        if (!Number.isFinite(out.loss) || out.loss > 1e6) { diverged = true; setPlaying(false); }
      }
    }
    function setPlaying(on) {
      playing = on && !diverged;
      play.textContent = playing ? "❚❚ pause" : "▶ play";
      play.classList.toggle("aew-on", playing);
      if (playing) { rateMark = { t: performance.now(), steps: run.steps }; setTimeout(slice, 0); }
      else if (run) draw();  // the readout drops the rate: nothing is running
    }
    function slice() {  // train for ~30 ms, redraw a few times a second, then give the page back
      if (!playing) return;
      const start = performance.now();
      while (performance.now() - start < 30 && !diverged) {
        steps(1);
        if (pauseAt && pauseAt.checked && run.steps === data.pause_at) { setPlaying(false); return; }
      }
      const now = performance.now();
      if (now - rateMark.t > 500) { rate = (run.steps - rateMark.steps) / ((now - rateMark.t) / 1000); rateMark = { t: now, steps: run.steps }; }
      if (now - lastDraw > 200 || !playing || diverged) { draw(); lastDraw = now; }
      if (playing) setTimeout(slice, 0);
    }

    const toPx = (z0, z1) => [(z0 - box.x[0]) / (box.x[1] - box.x[0]) * plane.width,
                              (1 - (z1 - box.y[0]) / (box.y[1] - box.y[0])) * plane.height];
    function draw() {
      codes = run.net.encode(images, n);
      let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
      for (let i = 0; i < n; i++) for (let d = 0; d < 2; d++) {
        lo[d] = Math.min(lo[d], codes[2 * i + d]); hi[d] = Math.max(hi[d], codes[2 * i + d]);
      }
      const c = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2], half = Math.max(hi[0] - lo[0], hi[1] - lo[1], 1e-3) * 0.6;
      box = { x: [c[0] - half, c[0] + half], y: [c[1] - half, c[1] + half] };  // square, so a round cloud looks round
      const g = plane.getContext("2d");
      g.clearRect(0, 0, plane.width, plane.height);
      g.strokeStyle = "rgba(128,128,128,0.5)"; g.lineWidth = 1;
      const [ox, oy] = toPx(0, 0);
      g.beginPath(); g.moveTo(ox, 0); g.lineTo(ox, plane.height); g.moveTo(0, oy); g.lineTo(plane.width, oy); g.stroke();
      if (settings.vae) {  // the prior's unit circle (radius 1 standard deviation)
        const [rx] = toPx(1, 0);
        g.beginPath(); g.arc(ox, oy, Math.abs(rx - ox), 0, 2 * Math.PI); g.stroke();
      }
      for (let i = 0; i < n; i++) {
        const [px, py] = toPx(codes[2 * i], codes[2 * i + 1]);
        g.fillStyle = data.colours[labels[i] % data.colours.length];
        g.fillRect(px - 2, py - 2, 4, 4);
      }
      // The scale: the plane follows the codes, so its edges say how wide the map is (z1 across, z2 up).
      g.fillStyle = "rgba(90,90,90,0.95)"; g.font = "11px sans-serif";
      const edge = v => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1)).replace("-", "−");
      g.textAlign = "right"; g.fillText(`z₁ from ${edge(box.x[0])} to ${edge(box.x[1])}`, plane.width - 3, plane.height - 4);
      g.textAlign = "left"; g.fillText(`z₂ from ${edge(box.y[0])} to ${edge(box.y[1])}`, 3, 12);
      g.textAlign = "start";
      drawCurve();
      drawHover();
      const x = new Float64Array(shown.length * P);
      shown.forEach((k, r) => x.set(images.subarray(k * P, (k + 1) * P), r * P));
      const f = run.net.forward(x, shown.length, false, null);
      const g2 = pairs.getContext("2d"), tile = document.createElement("canvas");
      tile.width = tile.height = 40;
      g2.clearRect(0, 0, pairs.width, pairs.height);
      shown.forEach((k, r) => {
        A.drawGray(tile, images.subarray(k * P, (k + 1) * P), data.width, data.height, false);
        g2.drawImage(tile, 40 * r, 0);
        A.drawGray(tile, f.logits.subarray(r * P, (r + 1) * P).map(v => 1 / (1 + Math.exp(-v))), data.width, data.height, false);
        g2.drawImage(tile, 40 * r, 40);
      });
      const last = run.history[run.history.length - 1];
      const words = last ? (settings.vae ? `loss ${last.loss.toFixed(1)} = reconstruction ${last.recon_loss.toFixed(1)} + β × KL ${last.kl.toFixed(2)}`
                                         : `loss ${last.loss.toFixed(1)}`) : "not trained yet";
      readout.textContent = diverged ? `Diverged at step ${run.steps}: the loss is no longer a number. Lower the learning rate and reset.`
        : `step ${run.steps} · ${playing ? `${rate.toFixed(0)} steps/s · ` : ""}${words}`;
      root.dataset.steps = run.steps;
      root.dataset.loss = last ? last.loss : "";
      root.dataset.diverged = diverged;
    }
    function drawCurve() {
      const g = curve.getContext("2d"), h = run.history, W = curve.width, Hh = curve.height;
      g.clearRect(0, 0, W, Hh);
      if (h.length < 2) return;
      const series = settings.vae ? [["recon_loss", "#1f77b4"], ["kl", "#ff7f0e"]] : [["loss", "#1f77b4"]];
      const every = Math.max(1, Math.floor(h.length / W));
      for (const [key, colour] of series) {
        let avg = null;  // a running average over about 20 steps: one batch's loss is noisy
        const smooth = h.map(o => (avg = avg === null || !Number.isFinite(avg) ? o[key] : 0.95 * avg + 0.05 * o[key]));
        const vals = smooth.filter((_, i) => i % every === 0).filter(Number.isFinite);
        const top = Math.max(...vals) * 1.05, bottom = 0;
        g.strokeStyle = colour; g.lineWidth = 1.5; g.beginPath();
        vals.forEach((v, i) => {
          const x = i / (vals.length - 1) * W, y = Hh - (v - bottom) / (top - bottom) * (Hh - 4);
          if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
        });
        g.stroke();
        if (series.length === 1 || key === "recon_loss") {  // the scale: the top of the axis, in loss units
          g.fillStyle = colour; g.font = "11px sans-serif";
          g.fillText(top.toFixed(top < 10 ? 2 : 0), 3, 11);
        }
      }
      curveCap.textContent = settings.vae ? "reconstruction (blue) and KL (orange) per image, each on its own scale, smoothed"
                                          : "loss per image over the steps, smoothed";
    }
    let pointer = [0, 0];  // the code under the pointer, redrawn as training changes the decoder
    function drawHover() {
      A.drawGray(hover, run.net.decode(pointer), data.width, data.height, false);
      hoverCap.textContent = `decoded at z = (${pointer[0].toFixed(2)}, ${pointer[1].toFixed(2)})`;
    }
    function pointAt(ev) {
      if (!box) return;
      const r = plane.getBoundingClientRect();
      const fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
      pointer = [box.x[0] + fx * (box.x[1] - box.x[0]), box.y[0] + (1 - fy) * (box.y[1] - box.y[0])];
      drawHover();
    }
    plane.addEventListener("pointermove", pointAt);  // a mouse hovering, a finger or pen dragging
    plane.addEventListener("pointerdown", pointAt);  // a tap
    play.addEventListener("click", () => setPlaying(!playing));
    once.addEventListener("click", () => { setPlaying(false); steps(1); draw(); });
    reset.addEventListener("click", () => { setPlaying(false); restart(); });

    // For tests and for readers with a console: run k steps at once, read the state.
    root.train = function (k, overrides) { Object.assign(settings, overrides || {}); steps(k); draw(); return root.state(); };
    root.state = function () {
      const mean = [0, 0], v = [0, 0];
      for (let i = 0; i < n; i++) for (let d = 0; d < 2; d++) mean[d] += codes[2 * i + d] / n;
      for (let i = 0; i < n; i++) for (let d = 0; d < 2; d++) v[d] += (codes[2 * i + d] - mean[d]) ** 2 / n;
      return { steps: run.steps, history: run.history.slice(), mean, variance: v, codes: Array.from(codes),
               vae: settings.vae, diverged, rate };
    };
    restart();
  };
})(window.AEBook);
