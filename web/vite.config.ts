import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The production build lands in web/dist; scripts/build-ui copies it into the Python package
// (src/tasksched/web) so that the package's __init__.py survives a clean build.
const apiTarget = process.env.TASKSCHED_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 700,
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
