// piscina's worker for the trivial case: the same one addition as bench/functions/inc.ts.
export default (x) => x + 1;
