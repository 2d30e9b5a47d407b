// The engine worker and its helpers: the page's own wasm module, started without a page; the
// engine worker loads models, prepares images and runs the DDIM steps off the page's thread, and
// on the CPU path its helpers render shares of a run on the other cores (src/worker.rs). The
// first message names the module's JS (its hashed name), hands over the compiled module, so the
// worker neither downloads nor compiles it again, and says whether the worker is a helper.
self.addEventListener("message", async ({ data }) => {
  const glue = new URL(data.glue, self.location.href);
  if (glue.origin !== self.location.origin) throw new Error(`the engine's module must come from ${self.location.origin}`);
  const { default: init, worker_main } = await import(glue.href);
  await init({ module_or_path: data.module });
  worker_main(data.helper === true);
}, { once: true });
