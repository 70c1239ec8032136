/** `npm start` and `bun run start`: a program, it exports nothing (start.mjs). */
export {};
