// ESLint flat config: typescript-eslint's recommendedTypeChecked, with type information from
// tsconfig.json (projectService). The rules that matter most here are the promise ones: a
// floating promise is a rejection nobody handles (Node ends the process on it) or a write nobody
// waits for, and a promise handed to a caller that ignores results (an event listener, a timer)
// fails silently. Rules turned off below each say why.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', '.cache/', 'clients/**/schema.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A switch over a union names every member or has a default that says what the rest do (Stripe's
      // event type has hundreds); a switch over a plain string or number always has a default.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: true }],
      // `Promise.all(items.map((x) => x.thing?.close()))`: undefined for an item without one is meant.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
      // ws hands messages over as RawData, which includes ArrayBuffer only with binaryType
      // 'arraybuffer'; no socket here sets that, so `data.toString()` is a Buffer's.
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', 'ArrayBuffer'] }],
      // `async` with no `await` is how this code implements a Promise-returning contract
      // (a route handler, a module's start/stop/dispose): it also turns a throw into a rejection,
      // which a plain function returning Promise.resolve() would not.
      '@typescript-eslint/require-await': 'off',
      // It flags `let code = ''; try { code = parse(); } catch {}`, the idiom this code uses so
      // that a variable is typed and assigned on every path; TypeScript reports a read before
      // an assignment already.
      'no-useless-assignment': 'off',
      // `_name` marks a parameter or destructured element kept for its position.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests read HTTP and WebSocket bodies as `any` and assert their fields: an assertion on a
    // field that is not there fails the test, which is the check these rules would add.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    // Plain JavaScript outside tsconfig.json (this file, the browser pages, the build and start scripts): no type information.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Pages served to browsers: the noVNC viewer and the /docs reference (Redoc is the bundle's global).
    files: ['plugins/streamspace/vnc/page/**/*.js', 'src/core/http/docs-page/page/**/*.js'],
    languageOptions: { globals: { ...globals.browser, Redoc: 'readonly' } },
  },
);
