// Vite's `?raw` imports (a file's text), used for the data files under site/src/data/.
declare module '*.yml?raw' {
  const text: string;
  export default text;
}
