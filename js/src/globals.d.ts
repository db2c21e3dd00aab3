// Names esbuild provides at build time (a script, not a module: these are global).

/** Set by esbuild: true in the development build (benchmark and test hooks), false in the shipped one. */
declare const SNW_DEV: boolean;

/** The panel's stylesheet, imported for esbuild to emit next to the bundle. */
declare module "*.css";
