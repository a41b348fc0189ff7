// Runs web/trainer.js's maths in Node for the tests: reads a JSON job on stdin, prints JSON.
//   {"job": "step", seed, hidden, pixels, x, n, vae, beta, eps, lr, optimiser, steps}
//      -> the parameters after `steps` updates on that one batch (with that noise)
//   {"job": "run", images, n, pixels, settings, steps} -> the seeded run's losses and codes
const fs = require("fs"), path = require("path"), vm = require("vm");
const context = { window: {}, Math, Float64Array, Uint8Array, Array, Object, Number, console };
vm.createContext(context);
vm.runInContext(fs.readFileSync(path.join(__dirname, "..", "..", "src", "aebook", "web", "trainer.js"), "utf8"), context);
const A = context.window.AEBook;
const job = JSON.parse(fs.readFileSync(0, "utf8"));
let out;
if (job.job === "step") {
  const net = new A.TinyAE({ seed: job.seed, hidden: job.hidden, pixels: job.pixels });
  const x = Float64Array.from(job.x), eps = job.eps ? Float64Array.from(job.eps) : null;
  const before = {};
  for (const k of net.names) before[k] = Array.from(net.params[k]);
  const losses = [];
  for (let i = 0; i < job.steps; i++)
    losses.push(net.step(x, job.n, { vae: job.vae, beta: job.beta, eps, lr: job.lr, optimiser: job.optimiser }));
  const after = {};
  for (const k of net.names) after[k] = Array.from(net.params[k]);
  out = { before, after, losses };
} else if (job.job === "run") {
  const images = Float64Array.from(job.images), s = job.settings;
  const run = new A.Run(images, job.n, { seed: s.seed, hidden: s.hidden, pixels: job.pixels });
  const t0 = Date.now();
  for (let i = 0; i < job.steps; i++) run.step({ vae: s.vae, lr: s.lr, batch: s.batch, beta: s.beta, optimiser: "adam" });
  const seconds = (Date.now() - t0) / 1000;
  out = { history: run.history, codes: Array.from(run.net.encode(images, job.n)), seconds };
}
process.stdout.write(JSON.stringify(out));
