/**
 * The host's part in serving the pages: reading a file the server ships. Which URL serves which
 * file is the pages' table (`routes/pages.ts`); reading is the host's job, given by the serve
 * entry, so the API stays host-free. A host without one answers the pages with 404.
 * @module
 */

/**
 * Reads a file the server ships: `./…` from the project's folder, anything else from an
 * installed package (`uplot/dist/uPlot.min.css`). Undefined when there is no such file.
 */
export type AssetReader = (file: string) => Promise<Uint8Array | undefined>;
