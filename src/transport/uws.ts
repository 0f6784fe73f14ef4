// Loads uWebSockets.js and tells whether the native binary or the package's slow JavaScript fallback is active.
import uWS from 'uWebSockets.js';

/**
 * The republished package silently swaps in a JavaScript shim when its native binary fails to load;
 * native functions print as `[native code]`, the shim's do not.
 */
export const uwsBinary: 'native' | 'fallback' = /\[native code\]/.test(Function.prototype.toString.call(uWS.App))
  ? 'native'
  : 'fallback';

export { uWS };
