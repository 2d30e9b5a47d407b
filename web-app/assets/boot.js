// trunk's initializer for the app (index.html, data-initializer): shows the download's progress
// while the browser fetches the wasm module, and says what is missing where it will not start.
// The app's CPU path is built with WebAssembly SIMD; the bytes below are a module using one
// SIMD instruction.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

function line() {
  let element = document.getElementById("boot");
  if (!element) {
    element = document.createElement("p");
    element.id = "boot";
    element.setAttribute("role", "status");
    element.setAttribute("aria-live", "polite");
    document.body.append(element);
  }
  return element;
}

function failed(text) {
  const element = line();
  element.className = "failed";
  element.textContent = text;
}

export default function initializer() {
  return {
    onStart() {
      line().textContent = "Downloading daecf…";
    },
    onProgress({ current, total }) {
      const mb = (bytes) => (bytes / 1e6).toFixed(1);
      line().textContent = `Downloading daecf: ${mb(current)} of ${mb(total)} MB`;
    },
    onSuccess() {
      document.getElementById("boot")?.remove();
    },
    onFailure(error) {
      if (!WebAssembly.validate(SIMD_PROBE)) {
        failed("daecf needs WebAssembly SIMD, which this browser lacks: use Chrome or Edge 91+, Firefox 89+ or Safari 16.4+.");
      } else {
        failed(`daecf could not start (${error}). Reload the page; if it fails again, clear this site's data.`);
      }
    },
  };
}
