import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "test-results.json", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-empty": ["error", { allowEmptyCatch: false }],
    },
  },
  {
    // Plugins see core only through its public API, never its internals or another plugin.
    files: ["plugins/*/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@swarm/core/*", "!@swarm/core/testing"], message: "import from @swarm/core (its public API) only" },
            { group: ["@swarm/filter-*", "@swarm/strategy-*", "@swarm/discovery-*", "@swarm/leader-*"], message: "a plugin must not depend on another plugin" },
            { group: ["@swarm/test-harness"], message: "@swarm/test-harness is for tests only; a plugin's tests may use it, its src/ may not" },
            { group: ["../../core/*", "../../../core/*"], message: "import from @swarm/core, not core's files" },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    // The compiled addon can only be required, from CommonJS.
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
