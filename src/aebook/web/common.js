// Shared helpers for the book's widgets: decode base64 arrays, draw grey images,
// and evaluate a trained decoder exported by aebook.widgets.export_decoder.
// Plain browser JavaScript, no libraries, nothing fetched from anywhere.
window.AEBook = window.AEBook || {};
(function (A) {
  A.bytes = function (b64) {  // base64 -> Uint8Array
    const s = atob(b64), out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  };
  A.floats = function (b64) {  // base64 of little-endian float32 -> Float32Array
    const b = A.bytes(b64);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  A.halves = function (b64) {  // base64 of little-endian float16 -> Float32Array (older browsers lack Float16Array)
    const b = A.bytes(b64), out = new Float32Array(b.length / 2);
    for (let i = 0; i < out.length; i++) {
      const h = b[2 * i] | (b[2 * i + 1] << 8), sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
      out[i] = e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f ? NaN : sign * Infinity) : sign * (1 + f / 1024) * 2 ** (e - 15);
    }
    return out;
  };
  A.el = function (tag, attrs, parent) {  // create an element with attributes / text
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
    }
    if (parent) parent.appendChild(e);
    return e;
  };
  A.legend = function (root, classes, colours) {  // a row of coloured dots with class names
    const legend = A.el("div", { class: "aew-row", style: "font-size: 0.8rem" }, root);
    classes.forEach((c, i) => {
      const item = A.el("span", {}, legend);
      A.el("span", { text: "● ", style: `color: ${colours[i % colours.length]}` }, item);
      item.appendChild(document.createTextNode(c));
    });
    return legend;
  };
  // Draw values in [0, 1] (or bytes 0..255 when `bytes` is true) as a w x h grey image
  // scaled up without smoothing, so each pixel stays a crisp square.
  A.drawGray = function (canvas, values, w, h, bytes) {
    const small = document.createElement("canvas");
    small.width = w; small.height = h;
    const ctx = small.getContext("2d"), img = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      const v = bytes ? values[i] : Math.round(255 * Math.min(1, Math.max(0, values[i])));
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    const big = canvas.getContext("2d");
    big.imageSmoothingEnabled = false;
    big.clearRect(0, 0, canvas.width, canvas.height);
    big.drawImage(small, 0, 0, canvas.width, canvas.height);
  };

  // One layer of an exported decoder applied to a flat activation `x` of shape `shape`.
  const layers = {
    linear(L, x) {  // y = W x + b, W stored (out, in)
      const y = new Float64Array(L.out);
      for (let o = 0; o < L.out; o++) {
        let s = L.b[o];
        const row = o * L.in;
        for (let i = 0; i < L.in; i++) s += L.W[row + i] * x[i];
        y[o] = s;
      }
      return [y, [L.out]];
    },
    unflatten(L, x) { return [x, L.shape]; },
    conv_transpose(L, x, shape) {  // PyTorch ConvTranspose2d, W stored (cin, cout, k, k)
      const [cin, h, w] = shape, k = L.k, s = L.stride, p = L.padding;
      const oh = (h - 1) * s - 2 * p + k + L.output_padding, ow = (w - 1) * s - 2 * p + k + L.output_padding;
      const y = new Float64Array(L.cout * oh * ow);
      for (let co = 0; co < L.cout; co++) y.fill(L.b[co], co * oh * ow, (co + 1) * oh * ow);
      for (let ci = 0; ci < cin; ci++)
        for (let iy = 0; iy < h; iy++)
          for (let ix = 0; ix < w; ix++) {
            const v = x[(ci * h + iy) * w + ix];
            if (v === 0) continue;
            for (let co = 0; co < L.cout; co++) {
              const wbase = (ci * L.cout + co) * k * k, ybase = co * oh * ow;
              for (let ky = 0; ky < k; ky++) {
                const oy = iy * s - p + ky;
                if (oy < 0 || oy >= oh) continue;
                for (let kx = 0; kx < k; kx++) {
                  const ox = ix * s - p + kx;
                  if (ox >= 0 && ox < ow) y[ybase + oy * ow + ox] += v * L.W[wbase + ky * k + kx];
                }
              }
            }
          }
      return [y, [L.cout, oh, ow]];
    },
    batchnorm(L, x, shape) {  // eval-mode BatchNorm2d folded to y = scale * x + shift per channel
      const per = x.length / L.scale.length, y = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const c = Math.floor(i / per);
        y[i] = L.scale[c] * x[i] + L.shift[c];
      }
      return [y, shape];
    },
    relu(L, x, shape) { return [x.map(v => (v > 0 ? v : 0)), shape]; },
    leaky_relu(L, x, shape) { return [x.map(v => (v > 0 ? v : L.slope * v)), shape]; },
    sigmoid(L, x, shape) { return [x.map(v => 1 / (1 + Math.exp(-v))), shape]; },
  };

  // A decoder: `decode(z)` returns the image's pixels (Float64Array, channel-major).
  A.Decoder = function (spec) {
    const parsed = spec.layers.map(L => {
      const out = Object.assign({}, L);
      const unpack = spec.dtype === "float16" ? A.halves : A.floats;
      for (const key of ["W", "b", "scale", "shift"]) if (typeof L[key] === "string") out[key] = unpack(L[key]);
      return out;
    });
    this.latent_dim = spec.latent_dim;
    this.image_shape = spec.image_shape;
    this.decode = function (z) {
      let x = Float64Array.from(z), shape = [z.length];
      for (const L of parsed) [x, shape] = layers[L.type](L, x, shape);
      return x;
    };
  };
})(window.AEBook);
