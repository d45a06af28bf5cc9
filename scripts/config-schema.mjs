// Writes core/dist/swarm.config.schema.json from the compiled config schema, the one the manager
// validates config files with: editors complete and check a config that names it in "$schema".
import { writeFileSync } from "node:fs";
import { URL, fileURLToPath } from "node:url";

const { SwarmConfigSchema } = await import(new URL("../core/dist/config/schema.js", import.meta.url).href);
const schema = { $schema: "http://json-schema.org/draft-07/schema#", ...JSON.parse(JSON.stringify(SwarmConfigSchema)) };
writeFileSync(fileURLToPath(new URL("../core/dist/swarm.config.schema.json", import.meta.url)), `${JSON.stringify(schema, null, 2)}\n`);
