import { defineConfig } from "vite";

// Served at /console/ (arrears serve locally, CloudFront in AWS): every asset path is relative to it.
export default defineConfig({
  base: "/console/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 600 },
});
