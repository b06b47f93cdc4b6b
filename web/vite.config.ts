import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import type { Plugin } from "vite";

/**
 * Mantine's useId (@mantine/hooks) starts with React's useId, then swaps it for a random id in a
 * layout effect (a leftover of React 17 and server rendering): every component that has one (each
 * input, checkbox, popover, modal, portal, the app shell) renders a second time, synchronously, right
 * after the first commit, and that forces the pending effects to run before the browser can paint.
 * With React 18+ the first id is already unique and stable, so keep it: same ids' format, no re-render.
 */
function mantineStableIds(): Plugin {
  return {
    name: "tasksched:mantine-stable-ids",
    enforce: "pre",
    transform(code, id) {
      if (!/@mantine[\\/]hooks[\\/]esm[\\/]use-id[\\/]use-id\.mjs$/.test(id)) return null;
      if (!code.includes("setUuid(randomId())")) {
        this.error("@mantine/hooks' useId changed: review the mantineStableIds plugin in vite.config.ts");
      }
      return {
        code: [
          'import { useReactId } from "./use-react-id.mjs";',
          "export function useId(staticId) {",
          "  const reactId = useReactId();",
          '  return typeof staticId === "string" ? staticId : reactId;',
          "}",
        ].join("\n"),
        map: null,
      };
    },
  };
}

// The production build lands in web/dist; scripts/build-ui copies it into the Python package
// (src/tasksched/web) so that the package's __init__.py survives a clean build.
const apiTarget = process.env.TASKSCHED_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [mantineStableIds(), react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 900,
    rolldownOptions: {
      output: {
        codeSplitting: {
          // Everything the first page imports statically in one chunk: left to itself the bundler cut it
          // into ~20 files (modules that lazy pages share), and over HTTP/1.1's six connections a cold
          // load fetched them in five waves, which also held the first page's API calls back.
          groups: [{ name: "app", tags: ["$initial"] }],
        },
      },
    },
  },
  server: {
    proxy: {
      "/api": { target: apiTarget, changeOrigin: false },
      "/healthz": apiTarget,
      "/readyz": apiTarget,
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    include: ["src/**/*.test.{ts,tsx}"],
    // Rendering the whole task form takes about a second alone, but several times that on a shared
    // 2-core machine under load; 5 s (the default) made those tests fail by time alone.
    testTimeout: 20_000,
  },
});
