// Writes docs/errors.md from the compiled error tables (run `npm run build` first): core's catalog,
// then the table of each built-in plugin that has one (plugins/<name>/src/errors.ts).
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { URL, fileURLToPath } from "node:url";

const { isErrorBuilders, renderErrorCatalog } = await import(new URL("../core/dist/errors/catalog.js", import.meta.url).href);

const plugins = new URL("../plugins/", import.meta.url);
const sections = [];
for (const dir of readdirSync(plugins).sort()) {
  if (!existsSync(new URL(`${dir}/src/errors.ts`, plugins))) continue;
  const compiled = new URL(`${dir}/dist/errors.js`, plugins);
  if (!existsSync(compiled)) throw new Error(`${fileURLToPath(compiled)} is missing: run npm run build first`);
  const { name } = JSON.parse(readFileSync(new URL(`${dir}/package.json`, plugins), "utf8"));
  const tables = Object.values(await import(compiled.href)).filter(isErrorBuilders);
  sections.push({ title: name, source: `plugins/${dir}/src/errors.ts`, errors: Object.assign({}, ...tables) });
}
writeFileSync(fileURLToPath(new URL("../docs/errors.md", import.meta.url)), renderErrorCatalog(sections));
