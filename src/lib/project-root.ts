import { fileURLToPath } from 'node:url';

/**
 * True when this process runs the compiled build (dist/, `npm start`) rather than the sources
 * through tsx (the tests, the scripts): tsc turns this very file into project-root.js.
 */
export const compiled = import.meta.url.endsWith('.js');

/**
 * The checkout's root directory, where config/ and node_modules/ are, from the sources
 * (src/lib/) or from the build (dist/src/lib/) alike. Files an operator may edit, config/ above
 * all, are read from here and never copied into dist/.
 */
export const projectRoot = fileURLToPath(new URL(compiled ? '../../../' : '../../', import.meta.url));
