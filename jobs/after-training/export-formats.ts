/** The export formats and where exports go: shared by the local export and the cluster Job. */
export const EXPORT_FORMATS = ["onnx"] as const;
/** Where exports go, relative to the experiment's prefix. */
export const exportsKey = (format: string): string => `exports/${format}/`;
