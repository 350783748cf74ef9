// Cloud image import: one adapter per cloud (registry.ts) behind one interface (types.ts), and the
// import stage of kind cloud (stage.ts).
export { PROVIDERS } from './registry.ts';
export { cloudImportStage, makeCloudImportStage, pickObject, type CloudImportOptions } from './stage.ts';
export type { CloudProvider, ImportInput, ImportProgress } from './types.ts';
