/**
 * `effect-lrms/ssh`: the transport of any host reachable by SSH (npm `ssh2`, loaded only by
 * programs that import this entry point).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { SshTransport } from "effect-lrms/ssh"
 *
 * const transport = SshTransport.layer({ host: "login.example.org" }) // ~/.ssh/config applies
 * deepStrictEqual(typeof transport, "object")
 * ```
 *
 * @since 0.1.0
 * @module
 */

/** The transport of any host reachable by SSH. @since 0.1.0 */
export * as SshTransport from "./SshTransport.ts"
