// The console's build: one bundle under /console/assets (admin and the console service rewrite the base path in
// index.html when they serve it elsewhere), written into the Python package so both can serve it.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "../src/aloft_console/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
});
