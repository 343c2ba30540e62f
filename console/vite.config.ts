import { defineConfig } from "vite";

// Asset paths are relative: the same build is served at /console/ by arrears serve and at / by CloudFront.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 600 },
});
