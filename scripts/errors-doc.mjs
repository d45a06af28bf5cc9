// Writes docs/errors.md from the compiled error catalog (run `npm run build` first).
import { writeFileSync } from "node:fs";
import { URL, fileURLToPath } from "node:url";

const { renderErrorCatalog } = await import(new URL("../core/dist/errors/catalog.js", import.meta.url).href);
writeFileSync(fileURLToPath(new URL("../docs/errors.md", import.meta.url)), renderErrorCatalog());
