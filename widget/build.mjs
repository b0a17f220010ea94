// Build widget/dist/ with esbuild: the loader, the immutable versioned bundle and its source
// map, and manifest.json (version, files, sha384, sizes). `npm run build`, or `invoke
// widget.build` which also installs esbuild and type-checks first.
//
// The output is deterministic for given sources and version: the CDN refuses to overwrite a
// versioned file with different bytes, so a change must come with a new version in
// package.json.

import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(version)) {
  throw new Error(`package.json version ${version} is not semver (x.y.z)`);
}
const bundle = `rag-assistant.${version}.js`;

const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2019"],
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  define: { __VERSION__: JSON.stringify(version) },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  ...common,
  entryPoints: [join(root, "src/index.ts")],
  outfile: join(dist, bundle),
  sourcemap: "linked",
  sourcesContent: true,
  sourceRoot: "rag-assistant://widget/",
});
// The loader is an alias that changes with each release: no source map to go stale with it.
await build({ ...common, entryPoints: [join(root, "src/loader.ts")], outfile: join(dist, "loader.js") });

function describe(name) {
  const bytes = readFileSync(join(dist, name));
  return {
    sha384: "sha384-" + createHash("sha384").update(bytes).digest("base64"),
    bytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
  };
}

const files = Object.fromEntries([bundle, `${bundle}.map`, "loader.js"].map((name) => [name, describe(name)]));
const manifest = { name: "rag-assistant", version, bundle, integrity: files[bundle].sha384, files };
writeFileSync(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
const gz = files[bundle].gzipBytes + files["loader.js"].gzipBytes;
console.log(`widget ${version}: ${bundle} + loader.js = ${(gz / 1024).toFixed(1)} KB gzipped`);
