import { defineConfig } from "vite";

// `vite` (dev) forwards the manager's API to SWARM_URL, so the page can be worked on against a
// running `swarm manage` without building core.
const target = process.env.SWARM_URL ?? "http://127.0.0.1:2375";

export default defineConfig({
  base: "/ui/",
  // The manager serves dist/ as plain files behind its own TLS: no CDN, no runtime fetch of code.
  build: { outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0, sourcemap: false, target: "es2022" },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  server: {
    proxy: {
      "/swarm": target,
      "/containers": target,
      "/events": target,
    },
  },
});
