import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the portal with hot reload and sends the API to a running server
// (VANE_API, default http://localhost:8000), so the app and the API share one origin as in production.
const api = process.env.VANE_API ?? "http://localhost:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    proxy: { "/api": { target: api, changeOrigin: false } },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
