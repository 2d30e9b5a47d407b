// Starts the app where the browser runs WebAssembly SIMD (its CPU path is built with it), and
// says what is missing where it does not. The bytes are a module using one SIMD instruction.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

if (WebAssembly.validate(SIMD_PROBE)) {
  const { default: init } = await import("./daecf-web.js");
  await init();
} else {
  const message = document.createElement("p");
  message.id = "status";
  message.className = "failed";
  message.textContent = "daecf needs WebAssembly SIMD, which this browser lacks: use Chrome or Edge 91+, Firefox 89+ or Safari 16.4+.";
  document.body.append(message);
}
