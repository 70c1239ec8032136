/**
 * The warning a server prints when it listens beyond this machine with no `EBBFLOW_TOKEN`: then
 * anyone who can reach the address runs functions, reads every task and calls handlers.
 * @module
 */

/** Whether `host` is an address only this machine reaches (127.0.0.0/8, ::1, localhost). */
export const isLoopback = (host: string): boolean => {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(h) ||
    /^(0{0,4}:){2,7}0{0,3}1$/.test(h) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(h)
  );
};

/** One line for stderr, or undefined when there is nothing to warn of. */
export const exposureWarning = (host: string, token: string | undefined): string | undefined =>
  token !== undefined || isLoopback(host)
    ? undefined
    : `ebbflow: WARNING: listening on ${host} (beyond this machine) with no EBBFLOW_TOKEN: anyone who can reach it can run functions, read every task and its result, and call handlers; set EBBFLOW_TOKEN (docs/security.md)`;
