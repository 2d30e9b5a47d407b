// The engine worker: the page's own wasm module, started without a page; it loads models,
// prepares images and runs the DDIM steps off the page's thread (src/worker.rs).
import init, { worker_main } from "./daecf-web.js";

await init();
worker_main();
