// The engine worker: the page's own wasm module, started without a page; it loads models,
// prepares images and runs the DDIM steps off the page's thread (src/worker.rs). The page's
// first message names the module's JS (its hashed name) and hands over the compiled module, so
// the worker neither downloads nor compiles it again.
self.addEventListener("message", async ({ data }) => {
  const glue = new URL(data.glue, self.location.href);
  if (glue.origin !== self.location.origin) throw new Error(`the engine's module must come from ${self.location.origin}`);
  const { default: init, worker_main } = await import(glue.href);
  await init({ module_or_path: data.module });
  worker_main();
}, { once: true });
