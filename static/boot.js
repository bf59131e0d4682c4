// Starts the page's WebAssembly module. A file of its own (not an inline script) so that the
// Content-Security-Policy can forbid inline scripts.
import init from './app.js';

init().catch((error) => {
  const banner = document.getElementById('fatal');
  if (banner) {
    banner.textContent = 'Preflight could not start in this browser: ' + error;
    banner.hidden = false;
  }
});
