// Build plotly.js with only the trace types the book draws, with plotly.js's own esbuild
// settings (esbuild-config.js in its package), minified. Run by `make plotly-bundle`.
// Usage: node build.js OUTFILE TRACE [TRACE ...]
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');

const [outfile, ...traces] = process.argv.slice(2);
const version = require('plotly.js/package.json').version;
const entry = path.join(__dirname, 'entry.generated.js');
fs.writeFileSync(entry, "var Plotly = require('plotly.js/lib/core');\nPlotly.register([\n" +
  traces.map((t) => `  require('plotly.js/lib/${t}'),`).join('\n') + "\n]);\nmodule.exports = Plotly;\n");
esbuild.build({
  entryPoints: [entry], outfile, format: 'iife', globalName: 'Plotly', bundle: true, minify: true,
  legalComments: 'none', target: 'es2016', logLevel: 'warning',
  banner: { js: `/*! plotly.js v${version} | partial bundle for aebook, traces: ${traces.join(', ')} | ` +
                `Copyright 2012-2026, Plotly, Inc. | MIT license */` },
  plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
  alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
  define: { global: 'window', 'define.amd': 'false' },
}).then(() => fs.unlinkSync(entry));
